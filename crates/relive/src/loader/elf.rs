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
    const DT_FLAGS_1: u64 = 0x6fff_fffb;
    const DF_1_NODELETE: u64 = 0x8;
    let image = Image::read(bytes)?;
    Some(
        image
            .dynamic
            .iter()
            .any(|(tag, value)| *tag == DT_FLAGS_1 && value & DF_1_NODELETE != 0),
    )
}

/// What relive reads of a 64-bit little-endian ELF image: its loaded segments and its dynamic
/// section's entries.
struct Image {
    /// (file offset, virtual address, file size) of each `PT_LOAD` segment.
    loads: Vec<(u64, u64, u64)>,
    /// (tag, value) of each dynamic entry before `DT_NULL`; none without a dynamic section.
    dynamic: Vec<(u64, u64)>,
}

impl Image {
    fn read(bytes: &[u8]) -> Option<Image> {
        const PT_LOAD: u32 = 1;
        const PT_DYNAMIC: u32 = 2;
        const DT_NULL: u64 = 0;
        let u16_at = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
        let u32_at = |at: usize| Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
        let u64_at = |at: usize| Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
        let phoff = usize::try_from(u64_at(32)?).ok()?;
        let phentsize = usize::from(u16_at(54)?);
        let phnum = usize::from(u16_at(56)?);
        let mut image = Image {
            loads: Vec::new(),
            dynamic: Vec::new(),
        };
        for i in 0..phnum {
            let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
            match u32_at(ph)? {
                PT_LOAD => image
                    .loads
                    .push((u64_at(ph + 8)?, u64_at(ph + 16)?, u64_at(ph + 32)?)),
                PT_DYNAMIC => {
                    let offset = usize::try_from(u64_at(ph + 8)?).ok()?;
                    let size = usize::try_from(u64_at(ph + 32)?).ok()?;
                    for entry in (offset..offset.checked_add(size)?).step_by(16) {
                        let tag = u64_at(entry)?;
                        if tag == DT_NULL {
                            break;
                        }
                        image.dynamic.push((tag, u64_at(entry + 8)?));
                    }
                }
                _ => {}
            }
        }
        Some(image)
    }

    /// The file offset of virtual address `addr`, if a loaded segment holds it.
    fn offset_of(&self, addr: u64) -> Option<usize> {
        let (file_off, vaddr, _) = self
            .loads
            .iter()
            .find(|(_, vaddr, filesz)| (*vaddr..vaddr + filesz).contains(&addr))?;
        usize::try_from(addr - vaddr + file_off).ok()
    }
}

/// The names of the libraries the shared library at `path` needs (its `DT_NEEDED` entries), or
/// none when the file cannot be read as a 64-bit little-endian ELF image.
pub(crate) fn needed(path: &Path) -> Vec<String> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| needed_names(&bytes))
        .unwrap_or_default()
}

fn needed_names(bytes: &[u8]) -> Option<Vec<String>> {
    const DT_NEEDED: u64 = 1;
    const DT_STRTAB: u64 = 5;
    let image = Image::read(bytes)?;
    let strtab = image
        .dynamic
        .iter()
        .find(|(tag, _)| *tag == DT_STRTAB)
        .map(|(_, addr)| *addr)?;
    let strtab = image.offset_of(strtab)?;
    image
        .dynamic
        .iter()
        .filter(|(tag, _)| *tag == DT_NEEDED)
        .map(|&(_, at)| {
            let start = strtab.checked_add(usize::try_from(at).ok()?)?;
            let rest = bytes.get(start..)?;
            let end = rest.iter().position(|b| *b == 0)?;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        })
        .collect()
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

    #[test]
    fn needed_lists_the_libraries_a_binary_links_against() {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let names = needed(&exe);
        assert!(names.iter().any(|n| n == "libc.so.6"), "{names:?}");
        assert!(needed(Path::new("/nonexistent")).is_empty());
        assert!(needed_names(b"not an elf file at all, far too short").is_none());
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
