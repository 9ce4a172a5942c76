//! Tells the API tests whether PostgreSQL is there: `cfg(clearway_pg)` is set
//! when `TEST_DATABASE_URL` is set and not empty. Without it the `…::postgres`
//! tests are marked ignored, so that the summary line does not count them as
//! passed. The build script only looks at the environment; the crate itself
//! does not use the cfg.

fn main() {
    println!("cargo:rustc-check-cfg=cfg(clearway_pg)");
    // Naming what to watch also stops Cargo from rerunning this script on every source change.
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TEST_DATABASE_URL");
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.trim().is_empty()) {
        println!("cargo:rustc-cfg=clearway_pg");
    }
}
