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
