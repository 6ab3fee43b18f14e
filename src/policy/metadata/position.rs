//! Positions in a policy's source: declarations, imports, literal paths, and where `decide`
//! returns.

use rhai::{AST, ASTFlags, Expr, Stmt};

/// The position (1-based line and column) of the constant `name`'s declaration.
pub(crate) fn const_position(source: &str, name: &str) -> Option<(usize, usize)> {
    decl_position(source, "const", name)
}

/// The position of the declaration `export const name`.
pub(crate) fn exported_const_position(source: &str, name: &str) -> Option<(usize, usize)> {
    decl_position(source, "export const", name)
}

/// The position of the definition of function `name`.
pub(crate) fn fn_position(source: &str, name: &str) -> Option<(usize, usize)> {
    decl_position(source, "fn", name)
}

fn decl_position(source: &str, keyword: &str, name: &str) -> Option<(usize, usize)> {
    source.lines().enumerate().find_map(|(i, line)| {
        let indent = line.len() - line.trim_start().len();
        let rest = line.trim_start().strip_prefix(keyword)?;
        let gap = rest.len() - rest.trim_start().len();
        if gap == 0 {
            return None;
        }
        let after = rest.trim_start().strip_prefix(name)?;
        if after.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
            return None;
        }
        let column = line
            .get(..indent + keyword.len() + gap)
            .map_or(1, |s| s.chars().count() + 1);
        Some((i + 1, column))
    })
}

/// Every `import "path" as alias` of `source`, in order: `(path, alias)`.
pub(crate) fn imports(source: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for line in source.lines() {
        let Some(rest) = line.trim_start().strip_prefix("import") else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('"') else {
            continue;
        };
        let Some((path, rest)) = rest.split_once('"') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix("as") else {
            continue;
        };
        let alias: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !alias.is_empty() && rest.starts_with(char::is_whitespace) {
            found.push((path.to_owned(), alias));
        }
    }
    found
}

/// The position of the string literal `"text"` (used to point at an `import` path).
pub(crate) fn string_position(source: &str, text: &str) -> Option<(usize, usize)> {
    let quoted = format!("\"{text}\"");
    source.lines().enumerate().find_map(|(i, line)| {
        let at = line.find(&quoted)?;
        Some((i + 1, line.get(..at).map_or(1, |s| s.chars().count() + 1)))
    })
}

/// Every string literal passed to `.get("…")`, with its position: compiled at load time.
pub(crate) fn literal_paths(source: &str) -> Vec<(String, usize, usize)> {
    let mut found = Vec::new();
    for (i, line) in source.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        let mut rest = line;
        let mut offset = 0;
        while let Some(at) = rest.find(".get(\"") {
            let start = at + ".get(\"".len();
            let Some(tail) = rest.get(start..) else { break };
            let Some(end) = tail.find('"') else { break };
            let path = tail.get(..end).unwrap_or_default();
            if path.starts_with('$') && !path.contains('\\') {
                let column = line
                    .get(..offset + start)
                    .map_or(1, |s| s.chars().count() + 1);
                found.push((path.to_owned(), i + 1, column));
            }
            offset += start + end;
            rest = tail.get(end..).unwrap_or_default();
        }
    }
    found
}

/// Where `decide` returned a value it must not return, as far as the source tells.
#[derive(Debug, PartialEq)]
pub(crate) enum ReturnAt {
    /// One `return` (or last expression) can give a value of that type: its line and column.
    One(usize, usize),
    /// Several can: their lines.
    Several(Vec<usize>),
    /// None is known to.
    Unknown,
}

/// Where `decide` (of `ast`) returns a value of the type rhai names `type_name` (`string`, `i64`,
/// `map`, …): its `return` statements and its last expressions (of the body, and of both branches
/// of an `if` that ends it). A point whose literal type is `type_name` is the answer; when none is,
/// a point whose type is not known from the source (a variable, a call) is.
pub(crate) fn return_position(ast: &AST, type_name: &str) -> ReturnAt {
    let decide =
        ast.clone_functions_only_filtered(|_, _, _, name, params| name == "decide" && params == 1);
    let mut points: Vec<(Option<&'static str>, rhai::Position)> = Vec::new();
    let mut last_top: Option<Stmt> = None;
    decide.walk(&mut |path: &[rhai::ASTNode]| {
        match path {
            [rhai::ASTNode::Stmt(stmt)] => last_top = Some((*stmt).clone()),
            [
                ..,
                rhai::ASTNode::Stmt(Stmt::Return(Some(expr), flags, pos)),
            ] if !flags.contains(ASTFlags::BREAK) => {
                points.push((literal_type(expr), *pos));
            }
            _ => {}
        }
        true
    });
    if let Some(stmt) = &last_top {
        tails(stmt, &mut points);
    }
    let exact: Vec<rhai::Position> = points
        .iter()
        .filter(|(t, _)| *t == Some(type_name))
        .map(|(_, p)| *p)
        .collect();
    let candidates = if exact.is_empty() {
        points
            .iter()
            .filter(|(t, _)| t.is_none())
            .map(|(_, p)| *p)
            .collect()
    } else {
        exact
    };
    match candidates.as_slice() {
        [] => ReturnAt::Unknown,
        [one] => match (one.line(), one.position()) {
            (Some(line), Some(column)) => ReturnAt::One(line, column),
            _ => ReturnAt::Unknown,
        },
        several => ReturnAt::Several(several.iter().filter_map(|p| p.line()).collect()),
    }
}

/// The expressions whose value a block ending in `stmt` gives, with their literal types.
fn tails(stmt: &Stmt, points: &mut Vec<(Option<&'static str>, rhai::Position)>) {
    match stmt {
        Stmt::Expr(expr) => points.push((literal_type(expr), expr.position())),
        Stmt::FnCall(_, pos) => points.push((None, *pos)),
        Stmt::If(flow, _) => {
            for block in [&flow.body, &flow.branch] {
                if let Some(last) = block.statements().last() {
                    tails(last, points);
                }
            }
        }
        Stmt::Block(block) => {
            if let Some(last) = block.statements().last() {
                tails(last, points);
            }
        }
        _ => {}
    }
}

/// The type a literal expression has, as rhai names it; `None` when the source does not say.
fn literal_type(expr: &Expr) -> Option<&'static str> {
    Some(match expr {
        Expr::StringConstant(..) | Expr::InterpolatedString(..) => "string",
        Expr::IntegerConstant(..) => "i64",
        Expr::FloatConstant(..) => "f64",
        Expr::BoolConstant(..) => "bool",
        Expr::CharConstant(..) => "char",
        Expr::Map(..) => "map",
        Expr::Array(..) => "array",
        Expr::Unit(..) => "()",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_decide_returns_a_string() {
        let engine = rhai::Engine::new();
        let source = "fn decide(f) {\n    if f.sample {\n        return notify(\"a\", \"b\");\n    }\n    let x = 1;\n    if x > 0 { `oops ${x}` } else { [] }\n}";
        let ast = engine.compile(source).unwrap();
        assert_eq!(return_position(&ast, "string"), ReturnAt::One(6, 16));
        let two = "fn decide(f) {\n    if f.x { return \"a\"; }\n    \"b\"\n}";
        let ast = engine.compile(two).unwrap();
        assert_eq!(
            return_position(&ast, "string"),
            ReturnAt::Several(vec![2, 3])
        );
        let var = "fn decide(f) {\n    let s = \"a\";\n    s\n}";
        let ast = engine.compile(var).unwrap();
        assert_eq!(return_position(&ast, "string"), ReturnAt::One(3, 5));
    }

    #[test]
    fn positions() {
        let src = "// x\n  const DESCRIPTION = \"d\";\nfn decide(f) {\n  f.get(\"$.a\") + f.get(\"$.b\")\n}\nconst NAMES = 1;";
        assert_eq!(const_position(src, "DESCRIPTION"), Some((2, 9)));
        assert_eq!(const_position(src, "NAME"), None);
        assert_eq!(fn_position(src, "decide"), Some((3, 4)));
        assert_eq!(
            literal_paths(src),
            vec![("$.a".to_owned(), 4, 10), ("$.b".to_owned(), 4, 25)]
        );
        assert_eq!(
            string_position("import \"../x\" as m;", "../x"),
            Some((1, 8))
        );
        assert_eq!(
            imports("import \"_common\" as common;\n  import \"lib/ec2\" as ec2;\nimport \"x\";"),
            [
                ("_common".to_owned(), "common".to_owned()),
                ("lib/ec2".to_owned(), "ec2".to_owned())
            ]
        );
    }
}
