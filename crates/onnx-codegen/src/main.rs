//! `cargo run -p onnx-codegen`: rewrites flopscope-core's committed ONNX types.

fn main() {
    let code = match onnx_codegen::generate() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let path = onnx_codegen::committed_path();
    if let Err(e) = std::fs::write(&path, code) {
        eprintln!("error: cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("wrote {}", path.display());
}
