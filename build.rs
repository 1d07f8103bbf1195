//! What the build needs besides Rust:
//! - libpcap, the one native library vimage links (tcpdump's filters are
//!   pcap-filter(7), libpcap's language). On a Debian or Ubuntu machine
//!   where it is missing and we are root, it is installed, so a fresh
//!   machine needs nothing done by hand; elsewhere the build says what to do.
//! - the LD_PRELOAD shim (`shim/`, docs/HOST_PROGRAMS.md) for the `vimage`
//!   binary to carry: a cdylib cannot be a dependency, so it is built here
//!   with its own target directory (no lock shared with the build that
//!   runs this) and embedded from `OUT_DIR`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        libpcap();
    }
    println!("cargo:rerun-if-changed=shim/src");
    println!("cargo:rerun-if-changed=shim/Cargo.toml");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let so = out.join("libvimage_shim.so");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        // Host programs in jails are Linux's: elsewhere nothing is carried.
        std::fs::write(&so, b"").expect("write");
        return;
    }
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("target"))
        .join("shim");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&manifest)
        .args(["build", "--release", "--quiet", "-p", "vimage-shim", "--target-dir"])
        .arg(&target)
        .args([
            "--config",
            "profile.release.debug=0",
            "--config",
            "profile.release.strip=true",
        ])
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo for the shim");
    assert!(status.success(), "building the shim failed");
    std::fs::copy(target.join("release/libvimage_shim.so"), &so).expect("copy the shim");
}

fn have_libpcap() -> bool {
    if Command::new("pkg-config")
        .args(["--exists", "libpcap"])
        .status()
        .is_ok_and(|s| s.success())
    {
        return true;
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    let multiarch = target.replace("-unknown-", "-");
    let dirs = [
        "/usr/lib".to_string(),
        "/usr/lib64".to_string(),
        "/usr/local/lib".to_string(),
        "/opt/homebrew/lib".to_string(),
        format!("/usr/lib/{multiarch}"),
    ];
    let names = ["libpcap.so", "libpcap.dylib", "libpcap.a", "libpcap.tbd"];
    dirs.iter().any(|d| names.iter().any(|n| Path::new(d).join(n).exists()))
        || Path::new("/Library/Developer/CommandLineTools/SDKs").exists()
}

/// Install libpcap-dev if it is missing and we can (Linux only).
fn libpcap() {
    if have_libpcap() {
        return;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let apt = Path::new("/usr/bin/apt-get").exists();
    if root && apt {
        println!("cargo:warning=installing libpcap-dev (tcpdump's filter compiler) with apt-get");
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "-q", "libpcap-dev"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !install() {
            let _ = Command::new("apt-get").args(["update", "-q"]).output();
            install();
        }
    }
    if !have_libpcap() {
        println!(
            "cargo:warning=libpcap is missing: install libpcap-dev (Debian, Ubuntu) or libpcap-devel (Fedora) and build again"
        );
    }
}
