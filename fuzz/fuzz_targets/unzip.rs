//! Function code zips (CreateFunction's `ZipFile`): a zip unpacks into its own tree or is refused
//! with a store error; nothing is written outside the data dir's code directory.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nubo_store::CodeStore;

struct Fixture {
    _dir: tempfile::TempDir,
    code: CodeStore,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let code = CodeStore::open(dir.path()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        Fixture {
            _dir: dir,
            code,
            runtime,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let zip = bytes::Bytes::copy_from_slice(data);
    let _ = fixture.runtime.block_on(fixture.code.put_zip(zip));
});
