//! Entry points for the fuzz targets in `fuzz/` (`cargo +nightly fuzz run …`). Not an API: each
//! checks its own invariants with assertions, which is what a fuzzer looks for.

use std::path::Path;

use crate::state::snapshot::{Format, Snapshot};

/// Snapshot decoding: never panics; whatever decodes re-encodes to the same snapshot.
pub fn snapshot(data: &[u8]) {
    let path = Path::new("fuzz");
    if let Ok(snapshot) = Snapshot::from_bytes(path, data) {
        let _ = snapshot.to_json();
        let bytes = snapshot
            .to_bytes(Format::Binary)
            .expect("a decoded snapshot encodes");
        let again = Snapshot::from_bytes(path, &bytes).expect("an encoded snapshot decodes");
        assert_eq!(again, snapshot);
    }
}

/// The fingerprint check: never panics, accepts exactly the host's own facts. `data` is split on
/// NUL bytes into up to seven worker facts; missing ones are the host's.
pub fn fingerprint(data: &[u8]) {
    trait Probe {}
    impl relive_worker::Interface for dyn Probe {
        const FINGERPRINT: u64 = 0x1234_5678;
    }
    let host = crate::loader::fingerprint::host_facts::<dyn Probe>();
    let mut worker = host.clone();
    for (i, part) in data.split(|b| *b == 0).take(7).enumerate() {
        worker[i] = String::from_utf8_lossy(part).into_owned();
    }
    let result = crate::loader::fingerprint::compare(Path::new("fuzz"), &worker, &host);
    assert_eq!(result.is_ok(), worker == host);
    if let Err(e) = result {
        assert!(!e.to_string().is_empty());
    }
}

/// The ELF completeness check on the first bytes of a file of `data.len()` bytes: never panics.
pub fn elf_header(data: &[u8]) {
    let _ = crate::loader::elf::check_header(&data[..data.len().min(64)], data.len() as u64);
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// Every input in `fuzz/corpus/<target>/` (seeds, and inputs that once failed) passes.
    #[test]
    fn fuzz_corpus_passes() {
        let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 3] = [
            ("snapshot", super::snapshot),
            ("fingerprint", super::fingerprint),
            ("elf_header", super::elf_header),
        ];
        let mut ran = 0;
        for (name, target) in targets {
            for entry in std::fs::read_dir(corpus.join(name)).unwrap() {
                let data = std::fs::read(entry.unwrap().path()).unwrap();
                target(&data);
                ran += 1;
            }
        }
        assert!(ran >= 3);
        // And the host's own facts are accepted.
        super::fingerprint(&[]);
    }
}
