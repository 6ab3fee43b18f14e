//! The prefilter: which policies can apply to a finding type, found without running any script.

use std::collections::HashMap;

use crate::glob::glob_match;
pub(crate) use crate::glob::literal_prefix;

/// Policies indexed by the finding types they apply to: exact types in a map, globs by their literal
/// prefix, and `*`-like globs (no literal prefix) always.
#[derive(Debug, Default)]
pub(crate) struct TypeIndex {
    exact: HashMap<String, Vec<usize>>,
    by_prefix: HashMap<String, Vec<(usize, String)>>,
    prefix_lens: Vec<usize>,
    always: Vec<(usize, String)>,
}

impl TypeIndex {
    /// Adds policy number `policy` under `glob`.
    pub(crate) fn insert(&mut self, policy: usize, glob: &str) {
        let prefix = literal_prefix(glob);
        if prefix.len() == glob.len() {
            self.exact.entry(glob.to_owned()).or_default().push(policy);
        } else if prefix.is_empty() {
            self.always.push((policy, glob.to_owned()));
        } else {
            if !self.prefix_lens.contains(&prefix.len()) {
                self.prefix_lens.push(prefix.len());
                self.prefix_lens.sort_unstable();
            }
            self.by_prefix
                .entry(prefix.to_owned())
                .or_default()
                .push((policy, glob.to_owned()));
        }
    }

    /// The policies (by number, ascending, each once) with a glob matching `finding_type`.
    pub(crate) fn candidates(&self, finding_type: &str) -> Vec<usize> {
        let mut found: Vec<usize> = Vec::new();
        if let Some(policies) = self.exact.get(finding_type) {
            found.extend_from_slice(policies);
        }
        let matching =
            |(policy, glob): &(usize, String)| glob_match(glob, finding_type).then_some(*policy);
        found.extend(self.always.iter().filter_map(matching));
        for &len in &self.prefix_lens {
            let Some(prefix) = finding_type.get(..len) else {
                if len > finding_type.len() {
                    break;
                }
                continue;
            };
            if let Some(globs) = self.by_prefix.get(prefix) {
                // The prefix matched: only the rest of each glob is left to match.
                let rest = finding_type.get(len..).unwrap_or_default();
                found.extend(globs.iter().filter_map(|(policy, glob)| {
                    glob_match(glob.get(len..).unwrap_or(glob), rest).then_some(*policy)
                }));
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exact_prefixed_and_universal_policies() {
        let mut index = TypeIndex::default();
        index.insert(0, "Recon:IAMUser/UserPermissions");
        index.insert(1, "UnauthorizedAccess:IAMUser/*");
        index.insert(2, "*");
        index.insert(3, "UnauthorizedAccess:EC2/*");
        index.insert(4, "UnauthorizedAccess:IAMUser/Malicious*");
        index.insert(4, "UnauthorizedAccess:IAMUser/*");
        index.insert(5, "*.Custom");
        assert_eq!(
            index.candidates("Recon:IAMUser/UserPermissions"),
            vec![0, 2]
        );
        assert_eq!(
            index.candidates("UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom"),
            vec![1, 2, 4, 5]
        );
        assert_eq!(
            index.candidates("Policy:S3/BucketPublicAccessGranted"),
            vec![2]
        );
        assert_eq!(index.candidates(""), vec![2]);
    }
}
