//! Build script: integration tests that play the host process export their
//! symbols dynamically, as the kernel executable does, so `dlsym` finds them.

fn main() {
    println!("cargo:rustc-link-arg-tests=-rdynamic");
}
