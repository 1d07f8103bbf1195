//! Builds the LD_PRELOAD shim (`shim/`, docs/HOST_PROGRAMS.md) for the
//! `vimage` binary to carry: a cdylib cannot be a dependency, so it is
//! built here with its own target directory (no lock shared with the
//! build that runs this) and embedded from `OUT_DIR`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
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
