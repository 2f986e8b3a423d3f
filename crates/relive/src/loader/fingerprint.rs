//! The build facts a worker must share with its host, and their comparison.

use std::path::Path;

use relive_worker::Interface;

use crate::error::{Error, FingerprintPart};

/// The parts, in the order of the facts, with what to do when one differs.
const PARTS: [(FingerprintPart, &str); 7] = [
    (
        FingerprintPart::Rustc,
        "build the host and the worker with the same toolchain, then restart the host",
    ),
    (
        FingerprintPart::Target,
        "build the worker for the host's target, then restart the host",
    ),
    (
        FingerprintPart::Flags,
        "build the host and the worker with the same RUSTFLAGS, then restart the host",
    ),
    (
        FingerprintPart::PanicStrategy,
        "use `panic = \"unwind\"` in both profiles, then restart the host",
    ),
    (
        FingerprintPart::ReliveVersion,
        "use the same relive version in the host and the worker, then restart the host",
    ),
    (
        FingerprintPart::ContextType,
        "the worker expects another context type: make `context:` in `export!` the host's",
    ),
    (
        FingerprintPart::Interface,
        "the interface crate changed since the host was built: rebuild and restart the host \
         (`cargo relive run` does it as soon as the host builds)",
    ),
];

/// This host's facts for context type `C`: rustc, target, flags, panic strategy, relive version,
/// context type name, interface fingerprint.
pub(crate) fn host_facts<C: ?Sized + Interface>() -> [String; 7] {
    use relive_worker::build;
    let panic = if cfg!(panic = "unwind") {
        "unwind"
    } else {
        "abort"
    };
    [
        build::RUSTC.to_owned(),
        build::TARGET.to_owned(),
        build::FLAGS.to_owned(),
        panic.to_owned(),
        build::RELIVE_VERSION.to_owned(),
        std::any::type_name::<C>().to_owned(),
        format!("{:016x}", C::FINGERPRINT),
    ]
}

/// `Ok` when every fact agrees; else the first part that differs, with both values and a hint.
pub(crate) fn compare(path: &Path, worker: &[String; 7], host: &[String; 7]) -> Result<(), Error> {
    for (i, (part, hint)) in PARTS.into_iter().enumerate() {
        if worker[i] != host[i] {
            return Err(Error::FingerprintMismatch {
                path: path.to_owned(),
                part,
                worker: worker[i].clone(),
                host: host[i].clone(),
                hint,
            });
        }
    }
    Ok(())
}
