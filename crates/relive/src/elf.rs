//! A cheap check that a file is a complete shared library for this machine, before `dlopen`.
//!
//! `dlopen` of a truncated file can succeed and crash later (the missing bytes are mapped as
//! `SIGBUS`), so the host refuses a file whose ELF header or header tables reach past its end.
//! Linkers write the section header table last, so a file still being written fails this check.

use std::io::Read;
use std::path::Path;

const EHDR_LEN: usize = 64;

/// Why the file is not loadable, or `Ok(())`.
pub(crate) fn check(path: &Path) -> Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot stat it: {e}"))?
        .len();
    let mut header = [0u8; EHDR_LEN];
    let mut read = 0;
    while read < EHDR_LEN {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot read it: {e}")),
        }
    }
    check_header(&header[..read], len)
}

/// Checks an ELF header (`bytes`, at least its first 64 bytes) of a file of `len` bytes.
pub(crate) fn check_header(bytes: &[u8], len: u64) -> Result<(), String> {
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return Err("it is not an ELF file".to_owned());
    }
    if bytes.len() < EHDR_LEN {
        return Err(format!(
            "it is truncated ({len} bytes, shorter than an ELF header)"
        ));
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err("it is not a 64-bit little-endian ELF file".to_owned());
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(b)
    };
    const ET_DYN: u16 = 3;
    if u16_at(16) != ET_DYN {
        return Err("it is not a shared library (ELF type is not ET_DYN)".to_owned());
    }
    const EM_X86_64: u16 = 62;
    const EM_AARCH64: u16 = 183;
    let expected = if cfg!(target_arch = "aarch64") {
        EM_AARCH64
    } else {
        EM_X86_64
    };
    if u16_at(18) != expected {
        return Err(format!(
            "it is built for another machine (ELF machine {})",
            u16_at(18)
        ));
    }
    let table_end = |offset: u64, count: u16, entry: u16| {
        offset.saturating_add(u64::from(count) * u64::from(entry))
    };
    let ph_end = table_end(u64_at(32), u16_at(56), u16_at(54));
    let sh_end = table_end(u64_at(40), u16_at(60), u16_at(58));
    let needed = ph_end.max(sh_end);
    if needed > len {
        return Err(format!(
            "it is truncated or still being written ({len} bytes, its headers need {needed})"
        ));
    }
    Ok(())
}

/// Whether the shared library at `path` is marked `DF_1_NODELETE` (`-z nodelete`): `dlclose`
/// then never unmaps it. rust-lang/rust#158402 proposes marking every Rust library so.
pub(crate) fn is_nodelete(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| nodelete_flag(&bytes).unwrap_or(false))
}

/// `DF_1_NODELETE` in the dynamic section of a 64-bit little-endian ELF image, if readable.
fn nodelete_flag(bytes: &[u8]) -> Option<bool> {
    const PT_DYNAMIC: u32 = 2;
    const DT_NULL: u64 = 0;
    const DT_FLAGS_1: u64 = 0x6fff_fffb;
    const DF_1_NODELETE: u64 = 0x8;
    let u16_at = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(32)?).ok()?;
    let phentsize = usize::from(u16_at(54)?);
    let phnum = usize::from(u16_at(56)?);
    for i in 0..phnum {
        let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
        if u32_at(ph)? != PT_DYNAMIC {
            continue;
        }
        let offset = usize::try_from(u64_at(ph + 8)?).ok()?;
        let size = usize::try_from(u64_at(ph + 32)?).ok()?;
        for entry in (offset..offset.checked_add(size)?).step_by(16) {
            match u64_at(entry)? {
                DT_NULL => return Some(false),
                DT_FLAGS_1 => return Some(u64_at(entry + 8)? & DF_1_NODELETE != 0),
                _ => {}
            }
        }
        return Some(false);
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_library() -> Vec<u8> {
        // Any shared library on the machine will do: take libc from our own mappings.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let libc = maps
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .find(|p| p.contains("libc.so"))
            .unwrap()
            .to_owned();
        std::fs::read(libc).unwrap()
    }

    fn check(bytes: &[u8], expected: Result<(), &str>) {
        let got = check_header(&bytes[..bytes.len().min(EHDR_LEN)], bytes.len() as u64);
        match (got, expected) {
            (Ok(()), Ok(())) => {}
            (Err(e), Err(want)) => assert!(e.contains(want), "`{e}` does not contain `{want}`"),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn header_check_accepts_whole_libraries_and_refuses_partial_or_foreign_files() {
        let lib = own_library();
        check(&lib, Ok(()));
        check(&lib[..lib.len() - 1], Err("truncated"));
        check(&lib[..lib.len() / 2], Err("truncated"));
        check(&lib[..100], Err("truncated"));
        check(&lib[..10], Err("shorter than an ELF header"));
        check(b"", Err("not an ELF"));
        check(b"#!/bin/sh\necho hi\n", Err("not an ELF"));
        let mut exe = lib.clone();
        exe[16] = 2; // ET_EXEC
        check(&exe, Err("not a shared library"));
        let mut arm = lib;
        arm[18] = 40; // EM_ARM
        check(&arm, Err("another machine"));
    }
}
