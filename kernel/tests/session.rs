//! The session against real evcxr and the real engine: one session runs a scenario
//! of many cells. This program is also the cell process (evcxr runs the current
//! executable), so it has its own `main` that calls the hooks first.
//!
//! The first run in a cache directory compiles the engine (minutes); later runs
//! reuse `~/.cache/born/evcxr` (or `BORN_CACHE_DIR`). `BORN_SESSION_TEST=quick`
//! skips the interrupt scenarios.

use born_kernel::eval::{Completeness, Evaluator, Outcome, Output};
use born_kernel::session::{child_hook, Frontend, Session, SessionOptions};
use std::time::{Duration, Instant};

struct Cell {
    outputs: Vec<(Instant, Output)>,
    outcome: Outcome,
    ended: Instant,
    took: Duration,
}

fn run(s: &mut Session, code: &str) -> Cell {
    let start = Instant::now();
    let mut outputs = Vec::new();
    let outcome = s.execute(code, &mut |o| outputs.push((Instant::now(), o)));
    let ended = Instant::now();
    Cell {
        outputs,
        outcome,
        ended,
        took: ended - start,
    }
}

fn stdout(c: &Cell) -> String {
    c.outputs
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Stdout(s) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

fn plain(c: &Cell) -> String {
    match &c.outcome {
        Outcome::Ok { result: Some(r) } => r.get("text/plain").and_then(|v| v.as_str()).unwrap_or("").to_string(),
        _ => String::new(),
    }
}

fn ok(c: &Cell) -> bool {
    matches!(c.outcome, Outcome::Ok { .. })
}

fn error(c: &Cell) -> (String, String, String) {
    match &c.outcome {
        Outcome::Error {
            ename,
            evalue,
            traceback,
        } => (ename.clone(), evalue.clone(), traceback.join("\n")),
        other => panic!("expected an error, got {other:?}"),
    }
}

struct Checks {
    failed: Vec<String>,
}

impl Checks {
    fn check(&mut self, name: &str, cond: bool, detail: impl std::fmt::Debug) {
        if cond {
            println!("ok    {name}");
        } else {
            println!("FAIL  {name}: {detail:?}");
            self.failed.push(name.to_string());
        }
    }
}

fn main() {
    child_hook();
    evcxr::runtime_hook();
    let quick = std::env::var("BORN_SESSION_TEST").as_deref() == Ok("quick");
    let mut t = Checks { failed: Vec::new() };

    let t0 = Instant::now();
    let mut s = match Session::new(SessionOptions::new(Frontend::Repl)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Session::new failed: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "timing: Session::new {:.2} s (work dir {})",
        t0.elapsed().as_secs_f64(),
        s.work_dir().display()
    );

    // The engine and persistence.
    let c = run(
        &mut s,
        "let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3]);\nlet n = 41;",
    );
    println!("timing: first cell using the engine {:.2} s", c.took.as_secs_f64());
    t.check("first cell", ok(&c), &c.outcome);
    let c = run(&mut s, "n + 1");
    t.check("variables persist", plain(&c) == "42", &c.outcome);
    let mut warm = Vec::new();
    for _ in 0..5 {
        let c = run(&mut s, "let y = &x + 1.0; y.sum_all()");
        warm.push(c.took.as_secs_f64());
    }
    warm.sort_by(f64::total_cmp);
    println!("timing: warm small cell (median of 5) {:.3} s", warm[2]);
    let c = run(&mut s, "x.sum_all().item::<f32>()");
    t.check("engine computes", plain(&c) == "6.0", &c.outcome);
    // Big enough to run on the thread pool: a cell's engine copy hands its tasks
    // to the host's pool through the runtime's C-ABI parallel-for.
    let c = run(
        &mut s,
        "let big = Tensor::ones([512, 512], DType::F32); \
         (big.matmul(&big).sum_all().item::<f32>() == 134217728.0, (&big * 2.0).exp().sum_all().item::<f32>() > 1.0e6)",
    );
    t.check("parallel kernels in a cell", plain(&c) == "(true, true)", &c.outcome);
    let c = run(
        &mut s,
        "fn double(v: i32) -> i32 { v * 2 }\nstruct P { a: i32 }\nuse std::collections::HashMap;",
    );
    t.check("items cell", ok(&c), &c.outcome);
    let c = run(
        &mut s,
        "let m: HashMap<i32, i32> = HashMap::new(); double(P { a: 4 }.a) + m.len() as i32",
    );
    t.check("fns, structs and use persist", plain(&c) == "8", &c.outcome);

    let c = run(&mut s, "std::env::var(\"BORN_FRONTEND\").unwrap()");
    t.check(
        "BORN_FRONTEND in the cell process",
        plain(&c).contains("repl"),
        &c.outcome,
    );
    let c = run(&mut s, "std::env::var(\"RUST_BACKTRACE\").is_err()");
    t.check("no RUST_BACKTRACE in the cell process", plain(&c) == "true", &c.outcome);

    // One runtime for every cell: the host's.
    let c = run(
        &mut s,
        "let rt_addr = born::runtime() as *const born::Runtime as usize;",
    );
    t.check("runtime cell", ok(&c), &c.outcome);
    let c = run(&mut s, "rt_addr == born::runtime() as *const born::Runtime as usize");
    t.check("two cells see the same runtime", plain(&c) == "true", &c.outcome);

    // Compile errors: one error, no stream output, spans.
    let c = run(&mut s, "let bad: i32 = \"text\";");
    let (ename, evalue, tb) = error(&c);
    t.check("compile error ename", ename == "CompileError", &ename);
    t.check("compile error evalue", evalue.contains("mismatched types"), &evalue);
    t.check(
        "compile error span",
        tb.contains("let bad: i32 = \"text\";") && tb.contains('^'),
        &tb,
    );
    t.check("compile error has no stream", c.outputs.is_empty(), &c.outputs);
    println!("--- compile error as shown:\n{tb}\n---");

    // Panics: reported, earlier variables survive.
    let c = run(
        &mut s,
        "let doomed = 5;\nprintln!(\"before\");\npanic!(\"boom {}\", 7);",
    );
    let (ename, evalue, tb) = error(&c);
    t.check("panic ename", ename == "Panic", &ename);
    t.check("panic evalue", evalue == "boom 7", &evalue);
    t.check("panic traceback", tb.contains("panicked"), &tb);
    t.check("output before the panic", stdout(&c) == "before\n", &c.outputs);
    let c = run(&mut s, "n + 1");
    t.check("variables survive a panic", plain(&c) == "42", &c.outcome);
    let c = run(&mut s, "x.reshape([7])");
    let (ename, evalue, _) = error(&c);
    t.check(
        "engine error panics as Panic",
        ename == "Panic" && !evalue.is_empty(),
        (&ename, &evalue),
    );

    // Live output: the first line reaches the sink before the cell ends.
    let c = run(
        &mut s,
        "println!(\"first\"); std::thread::sleep(std::time::Duration::from_secs(1)); println!(\"second\"); eprintln!(\"to stderr\");",
    );
    let first = c.outputs.iter().find(|(_, o)| *o == Output::Stdout("first\n".into()));
    t.check(
        "stdout is live",
        first.is_some_and(|(at, _)| c.ended.duration_since(*at) > Duration::from_millis(800)),
        &c.outputs,
    );
    t.check("stdout order", stdout(&c) == "first\nsecond\n", stdout(&c));
    t.check(
        "stderr forwarded",
        c.outputs
            .iter()
            .any(|(_, o)| *o == Output::Stderr("to stderr\n".into())),
        &c.outputs,
    );

    // Display markers.
    let c = run(
        &mut s,
        r#"println!("\u{1e}born-display {{\"kind\":\"display\",\"id\":\"d1\",\"data\":{{\"text/plain\":\"hello\"}},\"metadata\":{{}}}}");
println!("\u{1e}born-display {{\"kind\":\"update\",\"id\":\"d1\",\"data\":{{\"text/plain\":\"bye\"}},\"metadata\":{{}}}}");
println!("\u{1e}born-display {{\"kind\":\"result\",\"data\":{{\"text/html\":\"<b>r</b>\"}},\"metadata\":{{}}}}");"#,
    );
    let displays: Vec<&Output> = c
        .outputs
        .iter()
        .map(|(_, o)| o)
        .filter(|o| matches!(o, Output::Display { .. }))
        .collect();
    t.check(
        "display marker",
        matches!(displays.first(), Some(Output::Display { data, display_id: Some(id), update: false, .. }) if data["text/plain"] == "hello" && id == "d1"),
        &displays,
    );
    t.check(
        "update marker",
        matches!(displays.get(1), Some(Output::Display { update: true, .. })),
        &displays,
    );
    t.check(
        "result marker",
        matches!(&c.outcome, Outcome::Ok { result: Some(r) } if r["text/html"] == "<b>r</b>"),
        &c.outcome,
    );
    t.check("markers are not stdout", stdout(&c).is_empty(), stdout(&c));

    // Magics.
    let c = run(&mut s, ":vars");
    t.check(
        "vars",
        plain(&c).contains("n") && plain(&c).contains("Tensor"),
        &c.outcome,
    );
    let c = run(&mut s, ":help");
    t.check(
        "help",
        plain(&c).contains(":dep") && plain(&c).contains("Tensor"),
        &c.outcome,
    );
    let c = run(&mut s, ":timing");
    t.check("timing on", plain(&c) == "timing: on", &c.outcome);
    let c = run(&mut s, "n");
    t.check(
        "timing line",
        stdout(&c).contains("took") && plain(&c) == "41",
        (&c.outputs, &c.outcome),
    );
    let c = run(&mut s, ":timing");
    t.check("timing off", plain(&c) == "timing: off", &c.outcome);
    // CI has llvmpipe (BORN_REQUIRE_GPU=1): there the GPU must be taken; elsewhere a
    // machine without one must say so and stay on the CPU.
    let c = run(&mut s, ":device gpu");
    if std::env::var("BORN_REQUIRE_GPU").as_deref() == Ok("1") || plain(&c).starts_with("device: gpu:0") {
        t.check(
            "device gpu",
            plain(&c).starts_with("device: gpu:0"),
            (&c.outputs, &c.outcome),
        );
        let c = run(&mut s, "Tensor::from_vec(vec![1.0f32, 2.0], [2]).sum_all().to_device(Device::Cpu).device().to_string() + \" \" + &Tensor::from_vec(vec![1.0f32], [1]).device().to_string()");
        t.check(
            "new tensors on the gpu",
            plain(&c).contains("cpu gpu:0"),
            (&c.outputs, &c.outcome),
        );
    } else {
        let (_, evalue, _) = error(&c);
        t.check("device gpu without one", evalue.contains("staying on cpu"), &evalue);
    }
    let c = run(&mut s, ":device cpu");
    t.check("device cpu", plain(&c).starts_with("device: cpu"), &c.outcome);
    let c = run(&mut s, ":frobnicate");
    let (ename, evalue, _) = error(&c);
    t.check(
        "unknown magic",
        ename == "UnknownMagic" && evalue.contains(":vars"),
        &evalue,
    );
    let c = run(&mut s, ":show_deps");
    t.check("evcxr commands pass through", plain(&c).contains("born"), &c.outcome);
    let c = run(&mut s, ":type n");
    t.check("type passes through", plain(&c).contains("i32"), &c.outcome);

    // Completion and inspection.
    let comp = s.complete("x.ex", 4);
    t.check(
        "complete tensor method",
        comp.matches.iter().any(|m| m == "exp") && comp.start == 2,
        &comp,
    );
    let comp = s.complete("Tens", 4);
    t.check(
        "complete prelude item",
        comp.matches.iter().any(|m| m == "Tensor"),
        &comp,
    );
    let comp = s.complete("rt_a", 4);
    t.check("complete variable", comp.matches.iter().any(|m| m == "rt_addr"), &comp);
    let comp = s.complete(":ti", 3);
    t.check(
        "complete magic",
        comp.matches == vec![":timing".to_string()] && comp.start == 0,
        &comp,
    );
    let t1 = Instant::now();
    let doc = s.inspect("Tensor::exp", 10);
    println!("timing: inspect {:.3} s", t1.elapsed().as_secs_f64());
    t.check(
        "inspect",
        doc.as_ref()
            .is_some_and(|d| d["text/plain"].as_str().unwrap_or("").contains("exp")),
        &doc,
    );
    t.check(
        "is_complete",
        s.is_complete("fn f() {") == Completeness::Incomplete { indent: "    ".into() },
        (),
    );

    // Every listed Tensor method exists.
    let methods = born_kernel::session::tensor_methods();
    let code: String = methods.iter().map(|m| format!("let _ = Tensor::{m};\n")).collect();
    match s.check(&code) {
        Ok(errors) => {
            let missing: Vec<_> = errors.iter().filter(|(c, _)| c.as_deref() == Some("E0599")).collect();
            t.check(
                &format!("{} listed Tensor methods exist", methods.len()),
                missing.is_empty(),
                missing,
            );
        }
        Err(e) => t.check("check listed methods", false, e),
    }

    if !quick {
        // Cooperative interrupt: the engine stops at its next kernel, variables survive.
        let h = s.interrupt_handle();
        let timer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2500));
            h();
        });
        let c = run(
            &mut s,
            "let big = Tensor::rand([256, 256], DType::F32);\nloop { big.exp().realize(); }",
        );
        timer.join().unwrap();
        let (ename, evalue, _) = error(&c);
        t.check(
            "cooperative interrupt",
            ename == "Interrupted" && evalue.contains("kept"),
            (&ename, &evalue, c.took),
        );
        let c = run(&mut s, "n + 1");
        t.check("variables survive an interrupt", plain(&c) == "42", &c.outcome);

        // A loop that never checks the flag: killed after 3 s, variables lost, prelude back.
        let h = s.interrupt_handle();
        let timer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2500));
            h();
        });
        let c = run(&mut s, "loop {}");
        timer.join().unwrap();
        let (ename, evalue, _) = error(&c);
        t.check(
            "hard interrupt",
            ename == "Interrupted" && evalue.contains("lost"),
            (&ename, &evalue, c.took),
        );
        let c = run(&mut s, "n");
        t.check("variables lost after kill", !ok(&c), &c.outcome);
        let c = run(&mut s, "Tensor::ones([4], DType::F32).sum_all().item::<f32>()");
        t.check("prelude back after kill", plain(&c) == "4.0", &c.outcome);
        let c = run(&mut s, "panic!(\"again\")");
        t.check("panic hook back after kill", error(&c).0 == "Panic", &c.outcome);
    }

    // :clear and restart.
    run(&mut s, "let kept = 1;");
    let c = run(&mut s, ":clear");
    t.check("clear", ok(&c), &c.outcome);
    let c = run(&mut s, "kept");
    t.check("clear forgets", !ok(&c), &c.outcome);
    run(&mut s, "let kept = 1;");
    let t1 = Instant::now();
    let r = s.restart();
    println!("timing: restart {:.2} s", t1.elapsed().as_secs_f64());
    t.check("restart", r.is_ok(), &r);
    let c = run(&mut s, "kept");
    t.check("restart forgets", !ok(&c), &c.outcome);
    let c = run(&mut s, "Tensor::ones([2], DType::F32).sum_all().item::<f32>()");
    t.check("engine after restart", plain(&c) == "2.0", &c.outcome);

    drop(s);
    if t.failed.is_empty() {
        println!("all session checks passed");
    } else {
        println!("{} failed: {:?}", t.failed.len(), t.failed);
        std::process::exit(1);
    }
}
