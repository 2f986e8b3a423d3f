//! Reads `/proc/self/maps` to tell whether a library's image is still in memory.

use std::path::Path;

/// Whether any mapping of this process comes from `path` (also when the file was deleted since).
pub(crate) fn is_mapped(path: &Path) -> std::io::Result<bool> {
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let wanted = path.to_string_lossy();
    Ok(maps.lines().any(|line| {
        // `address perms offset dev inode path`: only the path contains a '/'.
        line.find('/')
            .map(|at| &line[at..])
            .is_some_and(|p| p.strip_suffix(" (deleted)").unwrap_or(p) == wanted)
    }))
}

/// The path and inode of the mapped object whose file is named `name` (`libgame.so`), if one is.
pub(crate) fn mapped_object(name: &str) -> Option<(std::path::PathBuf, u64)> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let at = line.find('/')?;
        let path = &line[at..];
        let path = path.strip_suffix(" (deleted)").unwrap_or(path);
        if Path::new(path).file_name()? != name {
            return None;
        }
        // `address perms offset dev inode path`
        let inode = line.split_whitespace().nth(4)?.parse().ok()?;
        Some((path.into(), inode))
    })
}

/// Touches every page of the readable mappings of `path`, so that the first calls into a freshly
/// loaded library do not page-fault on the frame thread. Returns the number of pages touched.
///
/// # Safety
///
/// `path` must be a library that stays loaded for the whole call.
pub(crate) unsafe fn prefault(path: &Path) -> std::io::Result<usize> {
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let wanted = path.to_string_lossy();
    let mut touched = 0;
    for line in maps.lines() {
        let Some(at) = line.find('/') else { continue };
        if line[at..] != *wanted {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !perms.starts_with('r') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        let mut page = start;
        while page < end {
            // SAFETY: the range is a readable mapping of the library, which the caller keeps
            // loaded; a volatile read of one byte per page only faults the page in.
            unsafe { std::ptr::read_volatile(page as *const u8) };
            touched += 1;
            page += 4096;
        }
    }
    Ok(touched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_executable_is_mapped_and_a_random_path_is_not() {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert!(is_mapped(&exe).unwrap());
        assert!(!is_mapped(Path::new("/nonexistent/libnothing.so")).unwrap());
    }
}
