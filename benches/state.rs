//! What the DynamoDB state adds to one action, against the local endpoint (moto): a ledger claim
//! plus its completion, every state call of a destructive action (shared kill switch, breaker,
//! claim, rate window, completion), and the same under the target's lock. Needs `AWS_ENDPOINT_URL`; without it each bench says
//! so and does nothing, so `cargo test --all-targets` (which runs benches once) passes offline.
//!
//! `cargo bench --bench state` also prints p50 and p99 over 500 sequential runs of each, and the
//! size of a ledger item (what DynamoDB bills writes by): see `benches/README.md`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use remedy::aws::{AwsSettings, DynamoLedger, DynamoState, StateTable};
use remedy::config::RateLimit;
use remedy::plan::{FindingContext, PlannedAction};
use remedy::store::ledger::{ClaimRequest, Ledger, LedgerKey, Owner, now_secs};
use remedy::store::state::{RateKey, StateStore};
use remedy::testing::finding_from_file;
use remedy::{Action, ActionKind};

const FINDING: &str = "examples/findings/01-iam-malicious-ip-custom.json";

struct Setup {
    runtime: tokio::runtime::Runtime,
    table: StateTable,
    ledger: DynamoLedger,
    state: DynamoState,
    finding: FindingContext,
    action: PlannedAction,
    owner: Owner,
}

fn setup() -> Option<Setup> {
    let Ok(url) = std::env::var("AWS_ENDPOINT_URL") else {
        eprintln!("state bench not run: AWS_ENDPOINT_URL is not set (start moto: scripts/moto.sh)");
        return None;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let settings = AwsSettings::default()
        .with_endpoint_url(url)
        .with_region("us-east-1")
        .with_static_credentials("testing", "testing");
    let name = format!("remedy-bench-{}", now_secs());
    let table = runtime.block_on(async {
        let table = StateTable::new(&settings, name, 90).await;
        table.init().await.map(|_| table)
    });
    let table = match table {
        Ok(table) => table,
        Err(e) => {
            eprintln!("state bench not run: {e}");
            return None;
        }
    };
    let finding = finding_from_file(FINDING).ok()?;
    let plan = remedy::policy::PolicySet::from_dir("policies")
        .ok()?
        .evaluate(&finding);
    let action = plan
        .actions
        .iter()
        .find(|a| matches!(a.action, Action::DisableAccessKey(_)))
        .cloned()?;
    Some(Setup {
        runtime,
        ledger: table.ledger(),
        state: table.state(),
        table,
        finding: plan.finding,
        action,
        owner: Owner::with_run("bench"),
    })
}

static N: AtomicU64 = AtomicU64::new(0);

/// A key no run has used.
fn fresh_key(s: &Setup) -> LedgerKey {
    let mut key = LedgerKey::new(&s.finding, &s.action);
    key.finding_id = format!("bench-{}", N.fetch_add(1, Ordering::Relaxed));
    key
}

async fn claim_and_complete(s: &Setup, key: &LedgerKey) {
    let request = ClaimRequest {
        key,
        owner: &s.owner,
        lease: Duration::from_secs(900),
        finding: &s.finding,
        action: &s.action,
    };
    let claim = s.ledger.claim(black_box(&request)).await;
    black_box(claim.ok());
    let done = s
        .ledger
        .complete(key, &s.owner, "access key disabled")
        .await;
    black_box(done.ok());
}

/// Every call a destructive action makes: kill switch, breaker, claim, window, completion.
async fn destructive_action(s: &Setup, key: &LedgerKey) {
    let now = now_secs();
    black_box(s.state.stop().await.ok());
    black_box(s.state.breaker(now).await.ok());
    let request = ClaimRequest {
        key,
        owner: &s.owner,
        lease: Duration::from_secs(900),
        finding: &s.finding,
        action: &s.action,
    };
    black_box(s.ledger.claim(&request).await.ok());
    let limit = RateLimit::new(u32::MAX, 3600);
    let window = RateKey::new(ActionKind::DISABLE_ACCESS_KEY);
    black_box(s.state.admit(&window, limit, now).await.ok());
    black_box(
        s.ledger
            .complete(key, &s.owner, "access key disabled")
            .await
            .ok(),
    );
}

/// The same, under the target's lock, as an enforced destructive action takes it: the lock's
/// claim first, its release last (two more ledger writes).
async fn locked_destructive_action(s: &Setup, key: &LedgerKey) {
    let lock = key.target_lock();
    let request = ClaimRequest {
        key: &lock,
        owner: &s.owner,
        lease: Duration::from_secs(900),
        finding: &s.finding,
        action: &s.action,
    };
    black_box(s.ledger.claim(&request).await.ok());
    destructive_action(s, key).await;
    black_box(s.ledger.release(&lock, &s.owner).await.ok());
}

/// p50 and p99 of `runs` sequential runs of `f`.
fn percentiles(
    s: &Setup,
    runs: usize,
    f: impl AsyncFn(&Setup, &LedgerKey),
) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let key = fresh_key(s);
            let start = Instant::now();
            s.runtime.block_on(f(s, &key));
            start.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| {
        let i = ((times.len() as f64 - 1.0) * q).round() as usize;
        times.get(i).copied().unwrap_or_default()
    };
    (at(0.50), at(0.99))
}

/// The billed size of an item, by DynamoDB's rules: names and string values in UTF-8 bytes,
/// numbers about one byte per two digits plus one.
fn item_size(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    aws_sdk_dynamodb::types::AttributeValue::S(s) => s.len(),
                    aws_sdk_dynamodb::types::AttributeValue::N(n) => n.len().div_ceil(2) + 1,
                    _ => 1,
                }
        })
        .sum()
}

/// The sizes of a ledger item claimed and finished.
fn sizes(s: &Setup) -> Option<(usize, usize)> {
    let key = fresh_key(s);
    let client = aws_sdk_dynamodb::Client::new(
        &s.runtime.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(std::env::var("AWS_ENDPOINT_URL").ok()?)
                .region(aws_config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "testing", "testing", None, None, "bench",
                ))
                .load(),
        ),
    );
    let read = |key: &LedgerKey| {
        let item = s.runtime.block_on(
            client
                .scan()
                .table_name(s.table.name())
                .filter_expression("contains(#k, :id)")
                .expression_attribute_names("#k", "key")
                .expression_attribute_values(
                    ":id",
                    aws_sdk_dynamodb::types::AttributeValue::S(key.finding_id.clone()),
                )
                .send(),
        );
        item.ok()?.items().first().map(item_size)
    };
    let request = ClaimRequest {
        key: &key,
        owner: &s.owner,
        lease: Duration::from_secs(900),
        finding: &s.finding,
        action: &s.action,
    };
    s.runtime.block_on(s.ledger.claim(&request)).ok()?;
    let claimed = read(&key)?;
    s.runtime
        .block_on(s.ledger.complete(&key, &s.owner, "access key disabled"))
        .ok()?;
    Some((claimed, read(&key)?))
}

fn bench(c: &mut Criterion) {
    let Some(s) = setup() else { return };
    let s = Arc::new(s);
    // Measured first, while the table is small (it is read with a scan).
    let sizes = std::env::args()
        .any(|a| a == "--bench")
        .then(|| sizes(&s))
        .flatten();
    let mut group = c.benchmark_group("state");
    group.sample_size(30);
    group.bench_function("claim + complete (dynamodb, local endpoint)", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let key = fresh_key(&s);
                s.runtime.block_on(claim_and_complete(&s, &key));
            }
            start.elapsed()
        });
    });
    group.bench_function("every state call of a destructive action", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let key = fresh_key(&s);
                s.runtime.block_on(destructive_action(&s, &key));
            }
            start.elapsed()
        });
    });
    group.bench_function(
        "every state call of a destructive action, under the target lock",
        |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let key = fresh_key(&s);
                    s.runtime.block_on(locked_destructive_action(&s, &key));
                }
                start.elapsed()
            });
        },
    );
    group.finish();
    if std::env::args().any(|a| a == "--bench") {
        let (p50, p99) = percentiles(&s, 500, claim_and_complete);
        eprintln!("claim + complete, 500 runs: p50 {p50:?}, p99 {p99:?}");
        let (p50, p99) = percentiles(&s, 500, destructive_action);
        eprintln!("every state call of a destructive action, 500 runs: p50 {p50:?}, p99 {p99:?}");
        let (p50, p99) = percentiles(&s, 500, locked_destructive_action);
        eprintln!("the same under the target lock, 500 runs: p50 {p50:?}, p99 {p99:?}");
        if let Some((claimed, done)) = sizes {
            eprintln!("ledger item: {claimed} bytes claimed, {done} bytes done");
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
