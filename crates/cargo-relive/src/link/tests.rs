//! The link setup's pieces, with stand-in linkers and files.

use super::*;

fn args(line: &str) -> Vec<String> {
    line.split(' ').map(str::to_owned).collect()
}

#[test]
fn the_shim_stands_in_for_cc_or_a_named_compiler_driver_and_nothing_else() {
    assert_eq!(
        linker_to_wrap(&args("--crate-type cdylib")).as_deref(),
        Some("cc")
    );
    assert_eq!(
        linker_to_wrap(&args("-C linker=/usr/bin/clang -C opt-level=0")).as_deref(),
        Some("/usr/bin/clang")
    );
    assert_eq!(
        linker_to_wrap(&args("-Clinker=x86_64-linux-gnu-gcc")).as_deref(),
        Some("x86_64-linux-gnu-gcc")
    );
    assert_eq!(linker_to_wrap(&args("-C linker=ld.lld")), None);
    assert_eq!(linker_to_wrap(&args("-C linker-flavor=ld.lld")), None);
    assert_eq!(linker_to_wrap(&args("-C prefer-dynamic")), None);
    assert_eq!(linker_to_wrap(&args("-Cprefer-dynamic=yes")), None);
    // A shared std has no copy to swap in, but its link is timed all the same.
    assert_eq!(linker_of(&args("-C prefer-dynamic")).as_deref(), Some("cc"));
    assert_eq!(linker_of(&args("-C linker-flavor=ld.lld")), None);
}

#[test]
fn only_the_toolchains_rlibs_with_a_copy_are_swapped_on_the_command_line_and_in_response_files() {
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().join("toolchain");
    let to = dir.path().join("copy");
    std::fs::create_dir_all(&from).unwrap();
    std::fs::create_dir_all(&to).unwrap();
    for name in ["libstd-1.rlib", "libcore-2.rlib"] {
        std::fs::write(from.join(name), "x").unwrap();
    }
    std::fs::write(to.join("libstd-1.rlib"), "y").unwrap();
    let stripped = StrippedStd {
        from: from.clone(),
        to: to.clone(),
    };
    let sub = |a: &Path| stripped.substitute(a.as_os_str().to_owned());
    assert_eq!(sub(&from.join("libstd-1.rlib")), to.join("libstd-1.rlib"));
    assert_eq!(
        sub(&from.join("libcore-2.rlib")),
        from.join("libcore-2.rlib"),
        "no copy: the original"
    );
    let elsewhere = dir.path().join("libstd-1.rlib");
    assert_eq!(sub(&elsewhere), elsewhere);
    assert_eq!(sub(Path::new("-lc")), Path::new("-lc"));

    let response = dir.path().join("linker-arguments");
    std::fs::write(
        &response,
        format!("-shared\n{}\n-lc\n", from.join("libstd-1.rlib").display()),
    )
    .unwrap();
    let arg = stripped.substitute(format!("@{}", response.display()).into());
    let rewritten = PathBuf::from(arg.to_str().unwrap().strip_prefix('@').unwrap());
    assert_ne!(rewritten, response);
    assert_eq!(
        std::fs::read_to_string(rewritten).unwrap(),
        format!("-shared\n{}\n-lc\n", to.join("libstd-1.rlib").display())
    );
}
