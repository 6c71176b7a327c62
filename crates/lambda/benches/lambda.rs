//! Micro-benchmarks of the invoke hot path before an environment is involved: finding the version
//! to run (in memory, with weighted alias routing) among many functions, and validating the event.

use std::collections::BTreeMap;
use std::io::Write;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use nubo_lambda::control::records::FunctionSpec;
use nubo_lambda::{Invoker, Registry};
use nubo_store::{CodeStore, StoreConfig};
use nubo_wire::arn::FunctionRef;
use nubo_wire::{AliasName, FunctionName, Qualifier, Scope};

fn reference(name: &str, qualifier: Option<&str>) -> FunctionRef {
    FunctionRef::new(
        Scope::default(),
        FunctionName::new(name).unwrap(),
        qualifier.map(|q| Qualifier::new(q).unwrap()),
    )
}

const FUNCTIONS: usize = 1000;

fn zip() -> Bytes {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file("app.py", zip::write::SimpleFileOptions::default())
        .unwrap();
    writer.write_all(b"def handler(e, c): return e\n").unwrap();
    Bytes::from(writer.finish().unwrap().into_inner())
}

fn spec(name: String) -> FunctionSpec {
    FunctionSpec {
        name: FunctionName::new(name).unwrap(),
        runtime: "python3.12".into(),
        role: "arn:aws:iam::000000000000:role/r".into(),
        handler: Some("app.handler".into()),
        description: String::new(),
        timeout_seconds: 3,
        memory_mb: 128,
        ephemeral_storage_mb: 512,
        environment: BTreeMap::new(),
        environment_set: false,
        tags: BTreeMap::new(),
        architectures: vec!["x86_64".into()],
        tracing_mode: "PassThrough".into(),
        layers: Vec::new(),
        dead_letter_target: None,
        log_format: "Text".into(),
        logging: Default::default(),
    }
}

/// How long a change may take to settle (Pending → Active, InProgress → Successful).
const SETTLE: std::time::Duration = std::time::Duration::from_secs(5);

fn registry(dir: &std::path::Path) -> std::sync::Arc<Registry> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let stores = StoreConfig::in_data_dir(dir).open(dir).await.unwrap();
        let code = CodeStore::with_blobs(dir, stores.blobs).unwrap();
        let registry = Registry::load(stores.documents, code, Default::default())
            .await
            .unwrap();
        let code = zip();
        for i in 0..FUNCTIONS {
            registry
                .create(&Scope::default(), spec(format!("fn-{i}")), code.clone())
                .await
                .unwrap();
            let created = reference(&format!("fn-{i}"), None);
            registry.wait_settled(&created, SETTLE).await;
        }
        registry
            .publish_version(&reference("fn-7", None), None, None, None)
            .await
            .unwrap();
        registry
            .update_code(&reference("fn-7", None), zip(), None)
            .await
            .unwrap();
        registry
            .wait_settled(&reference("fn-7", None), SETTLE)
            .await;
        registry
            .update_configuration(
                &reference("fn-7", None),
                nubo_lambda::control::records::ConfigurationUpdate {
                    description: Some("v2".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        registry
            .wait_settled(&reference("fn-7", None), SETTLE)
            .await;
        registry
            .publish_version(&reference("fn-7", None), None, None, None)
            .await
            .unwrap();
        registry
            .create_alias(
                &reference("fn-7", None),
                &AliasName::new("live", "name").unwrap(),
                "1",
                String::new(),
                BTreeMap::from([("2".to_owned(), 0.5)]),
            )
            .await
            .unwrap();
        registry
    })
}

fn resolve(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(dir.path());
    let latest = reference("fn-500", None);
    c.bench_function("registry/resolve_latest_of_1000", |b| {
        b.iter(|| registry.resolve_for_invoke(black_box(&latest)).unwrap())
    });
    let alias = reference("fn-7", Some("live"));
    c.bench_function("registry/resolve_weighted_alias", |b| {
        b.iter(|| registry.resolve_for_invoke(black_box(&alias)).unwrap())
    });
}

fn payload(c: &mut Criterion) {
    let small = Bytes::from(format!("{{\"data\":\"{}\"}}", "x".repeat(1000)));
    let large = Bytes::from(format!(
        "{{\"items\":[{}]}}",
        vec!["{\"id\":12345,\"name\":\"item\",\"tags\":[\"a\",\"b\"]}"; 2000].join(",")
    ));
    c.bench_function("invoke/check_payload_1KB", |b| {
        b.iter(|| Invoker::check_payload(black_box(small.clone()), 6 << 20, "").unwrap())
    });
    c.bench_function("invoke/check_payload_100KB", |b| {
        b.iter(|| Invoker::check_payload(black_box(large.clone()), 6 << 20, "").unwrap())
    });
}

criterion_group!(benches, resolve, payload);
criterion_main!(benches);
