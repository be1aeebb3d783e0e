//! Exposes PyO3's interpreter cfgs (`Py_3_14`, `Py_GIL_DISABLED`, ...) to the crate, for
//! the few APIs that exist only on some builds.
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
