//! `born::display`: tensor HTML, PNG/SVG output, the wire protocol, and what `show`
//! and the live displays write for each front-end.

use born::display::wire::{self, Kind, PREFIX};
use born::display::{
    escape_html, tensor_html, Figure, Frontend, Image, LiveDisplay, LivePlot, MimeBundle, Output, Progress, Render,
    IMAGE_PNG, IMAGE_SVG, TEXT_HTML, TEXT_PLAIN,
};
use born::prelude::*;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

/// A writer the test reads back after handing a clone to an [`Output`].
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines().map(String::from).collect()
    }

    fn messages(&self) -> Vec<wire::WireMessage> {
        self.lines()
            .iter()
            .map(|l| wire::decode(l).expect("every line is a message"))
            .collect()
    }
}

fn matrix(rows: usize, cols: usize) -> Tensor {
    Tensor::from_vec((0..rows * cols).map(|i| i as f32).collect::<Vec<f32>>(), [rows, cols])
}

fn decode_png(bundle_or_bytes: &[u8]) -> (u32, u32) {
    let reader = png::Decoder::new(bundle_or_bytes).read_info().expect("a valid PNG");
    (reader.info().width, reader.info().height)
}

fn png_of(bundle: &MimeBundle) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(bundle.get(IMAGE_PNG).expect("has image/png"))
        .expect("base64")
}

#[test]
fn tensor_bundle_has_text_and_html_with_header() {
    let t = matrix(2, 3);
    let b = t.mime_bundle();
    assert_eq!(b.plain(), t.to_string());
    let html = b.get(TEXT_HTML).unwrap();
    for part in ["shape=[2, 3]", "dtype=f32", "device=cpu", "<table", ">5.<"] {
        assert!(html.contains(part), "{part} missing in {html}");
    }
    assert_eq!(html.matches("<td").count(), 6);
}

#[test]
fn tensor_html_is_escaped_markup() {
    // Every `<` in the output starts a tag this module writes: no raw text markup.
    let html = tensor_html(&Tensor::from_vec(vec![f32::NAN, f32::NEG_INFINITY, 0.5, 1e-9], [2, 2]));
    let tags = [
        "<div", "</div", "<table", "</table", "<thead", "</thead", "<tbody", "</tbody", "<tr", "</tr", "<th", "</th",
        "<td", "</td",
    ];
    for (i, _) in html.match_indices('<') {
        assert!(
            tags.iter().any(|t| html[i..].starts_with(t)),
            "unexpected markup at {}",
            &html[i..]
        );
    }
    assert!(html.contains("nan") && html.contains("-inf"));
    assert_eq!(escape_html("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
}

#[test]
fn big_tensor_html_is_elided() {
    let html = tensor_html(&matrix(100, 100));
    // First and last 3 rows and columns, plus one elided row and column.
    assert_eq!(html.matches("<td").count(), 7 * 7);
    assert!(html.contains('…'));
    assert!(html.contains(">9999.<") && html.contains(">0.<") && !html.contains(">50.<"));
    let small = tensor_html(&matrix(10, 10));
    assert!(!small.contains('…'));
}

#[test]
fn rank3_html_shows_titled_slices() {
    let t = Tensor::from_vec((0..24).map(|i| i as f32).collect::<Vec<f32>>(), [2, 3, 4]);
    let html = tensor_html(&t);
    assert!(html.contains("[0, :, :]") && html.contains("[1, :, :]"));
    assert_eq!(html.matches("<table").count(), 2);
    assert!(html.contains(">23.<"));
}

#[test]
fn heatmap_png_decodes_at_a_visible_size() {
    let img = matrix(28, 28).heatmap();
    assert_eq!(decode_png(img.png_bytes()), (224, 224));
    let b = img.mime_bundle();
    assert_eq!(b.plain(), "<image 224x224>");
    assert_eq!(decode_png(&png_of(&b)), (224, 224));
    let err = Tensor::from_vec(vec![1.0f32; 4], [4]).try_heatmap().unwrap_err();
    assert!(err.to_string().contains("[4]"), "{err}");
}

#[test]
fn heatmap_draws_nan_distinctly() {
    let img = Tensor::from_vec(vec![0.0f32, f32::NAN, 1.0, 0.5], [2, 2]).heatmap();
    let mut reader = png::Decoder::new(img.png_bytes()).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    reader.next_frame(&mut buf).unwrap();
    let w = img.width() as usize;
    let px = |x: usize, y: usize| [buf[3 * (y * w + x)], buf[3 * (y * w + x) + 1], buf[3 * (y * w + x) + 2]];
    assert_eq!(px(w - 1, 0), [255, 0, 0], "NaN cell (top right) is red");
    assert_eq!(px(0, 0), [0x44, 0x01, 0x54], "the minimum is viridis' dark end");
}

#[test]
fn image_grid_of_gray_and_rgb_batches() {
    let gray = Tensor::from_vec(
        (0..6 * 28 * 28).map(|i| (i % 7) as f32).collect::<Vec<f32>>(),
        [6, 28, 28],
    );
    let img = gray.image_grid(3);
    // 3 x 2 tiles of 28 + 1 pixel lines, scaled by ceil(64 / 28) = 3.
    assert_eq!(decode_png(img.png_bytes()), ((3 * 29 + 1) * 3, (2 * 29 + 1) * 3));
    let rgb = Tensor::from_vec(vec![0.25f32; 2 * 3 * 8 * 8], [2, 3, 8, 8]).image_grid(2);
    assert_eq!((rgb.width(), rgb.height()), ((2 * 9 + 1) * 8, 10 * 8));
    let one = Tensor::from_vec(vec![0.0f32; 4 * 16], [4, 1, 4, 4]).image_grid(4);
    assert_eq!(decode_png(one.png_bytes()).1, one.height());
    let err = Tensor::from_vec(vec![0.0f32; 32], [2, 4, 2, 2])
        .try_image_grid(2)
        .unwrap_err();
    assert!(err.to_string().contains("[2, 4, 2, 2]"), "{err}");
}

#[test]
fn figure_renders_svg_and_png() {
    let xs: Vec<f64> = (0..40).map(|i| i as f64 * 0.25).collect();
    let fig = Figure::new()
        .title("Training")
        .xlabel("epoch")
        .ylabel("loss")
        .line(&xs, &xs.iter().map(|x| (-x).exp()).collect::<Vec<_>>(), "train")
        .scatter(&xs, &xs.iter().map(|x| (-x).exp() + 0.05).collect::<Vec<_>>(), "val")
        .histogram(&xs, 8)
        .label("x values");
    let b = fig.mime_bundle();
    let svg = b.get(IMAGE_SVG).unwrap();
    assert!(svg.contains("<svg") && svg.contains("Training") && svg.contains("val"));
    assert_eq!(decode_png(&png_of(&b)), (640, 400));
    assert_eq!(b.plain(), "<figure \"Training\": 3 series, 88 points>");
    let png = fig.to_png();
    // Text was drawn with the embedded font: the title row has dark pixels.
    let mut reader = png::Decoder::new(png.png_bytes()).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    reader.next_frame(&mut buf).unwrap();
    let title_rows = &buf[..640 * 3 * 40];
    assert!(title_rows.iter().any(|&v| v < 100), "the title is drawn");
}

#[test]
fn figure_save_by_extension() {
    let dir = std::env::temp_dir().join(format!("born-display-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fig = Figure::new().line_y(&[3.0, 1.0, 2.0], "y");
    fig.save(dir.join("f.svg")).unwrap();
    fig.save(dir.join("f.png")).unwrap();
    assert!(std::fs::read_to_string(dir.join("f.svg")).unwrap().contains("<svg"));
    assert_eq!(decode_png(&std::fs::read(dir.join("f.png")).unwrap()), (640, 400));
    assert!(fig.save(dir.join("f.jpg")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wire_round_trip_and_ordinary_lines() {
    let bundle = MimeBundle::text("a\nb \"c\" \u{1e}").with(TEXT_HTML, "<p>é</p>");
    let line = wire::encode(Kind::Update, Some("id-1"), &bundle);
    assert!(line.starts_with(PREFIX) && line.ends_with('\n') && line.matches('\n').count() == 1);
    let msg = wire::decode(&line).unwrap();
    assert_eq!(
        (msg.kind, msg.id.as_deref(), &msg.bundle),
        (Kind::Update, Some("id-1"), &bundle)
    );
    for ordinary in ["hello", "{\"kind\":\"display\"}", "born-display {}", ""] {
        assert!(wire::decode(ordinary).is_none(), "{ordinary:?}");
    }
}

#[test]
fn show_under_jupyter_writes_one_display_line() {
    let buf = Shared::default();
    let t = matrix(2, 2);
    Output::new(Frontend::Jupyter, buf.clone()).show(&t).unwrap();
    let msgs = buf.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].kind, Kind::Display);
    assert_eq!(msgs[0].id, None);
    assert_eq!(msgs[0].bundle.get(TEXT_PLAIN), Some(t.to_string().as_str()));
    assert!(msgs[0].bundle.get(TEXT_HTML).unwrap().contains("shape=[2, 2]"));
}

#[test]
fn show_without_frontend_prints_text() {
    let buf = Shared::default();
    let img = Image::from_rgb(2, 1, &[0, 0, 0, 255, 255, 255]).unwrap();
    Output::new(Frontend::Plain, buf.clone()).show(&img).unwrap();
    assert_eq!(buf.lines(), vec!["<image 2x1>".to_string()]);
}

/// The real `show` and `evcxr_display` on stdout: this test binary runs itself as a
/// child with `BORN_FRONTEND=jupyter` and decodes what the child printed.
#[test]
fn show_on_stdout_in_a_child_process() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "child_shows_on_stdout", "--nocapture", "--test-threads=1"])
        .env("BORN_FRONTEND", "jupyter")
        .env("BORN_DISPLAY_CHILD", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let msgs: Vec<_> = stdout.split('\n').filter_map(|l| wire::split_line(l).1).collect();
    let kinds: Vec<Kind> = msgs.iter().map(|m| m.kind).collect();
    assert_eq!(kinds, vec![Kind::Display, Kind::Result], "{stdout}");
    assert!(msgs[0].bundle.get(TEXT_HTML).unwrap().contains("shape=[3]"));
    assert_eq!(msgs[1].bundle.plain(), "<image 200x200>");
}

/// Runs only as the child of [`show_on_stdout_in_a_child_process`].
#[test]
fn child_shows_on_stdout() {
    if std::env::var("BORN_DISPLAY_CHILD").is_err() {
        return;
    }
    show(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3]));
    matrix(2, 2).heatmap().evcxr_display();
}

#[test]
fn live_display_updates_under_its_id() {
    let buf = Shared::default();
    let mut live = LiveDisplay::with_output(&MimeBundle::text("0%"), Output::new(Frontend::Jupyter, buf.clone()));
    live.update(&MimeBundle::text("100%"));
    let msgs = buf.messages();
    assert_eq!(msgs.len(), 2);
    assert_eq!((msgs[0].kind, msgs[1].kind), (Kind::Display, Kind::Update));
    assert_eq!(msgs[0].id.as_deref(), Some(live.id()));
    assert_eq!(msgs[1].id, msgs[0].id);
    assert_eq!(msgs[1].bundle.plain(), "100%");
    let other = LiveDisplay::with_output(&MimeBundle::text(""), Output::new(Frontend::Plain, Shared::default()));
    assert_ne!(other.id(), live.id());
}

#[test]
fn live_plot_throttles_and_finishes() {
    let buf = Shared::default();
    let mut plot = LivePlot::with_output(Figure::new().title("loss"), Output::new(Frontend::Repl, buf.clone()))
        .every_millis(3_600_000)
        .every_points(10);
    for i in 0..25 {
        plot.push_y("train", 1.0 / (i as f64 + 1.0));
    }
    // Initial display, redraws at 10 and 20 points.
    assert_eq!(buf.messages().len(), 3);
    plot.finish();
    plot.finish();
    let msgs = buf.messages();
    assert_eq!(msgs.len(), 4, "finish draws the last 5 points once");
    assert!(msgs
        .iter()
        .skip(1)
        .all(|m| m.kind == Kind::Update && m.id == msgs[0].id));
    assert_eq!(msgs[3].bundle.plain(), "<figure \"loss\": 1 series, 25 points>");
    assert!(msgs[3].bundle.get(IMAGE_SVG).unwrap().contains("<svg"));
    assert_eq!(plot.figure().series_len("train"), 25);
    drop(plot);
    assert_eq!(buf.messages().len(), 4, "nothing pending on drop");
}

#[test]
fn progress_bar_text_html_and_throttle() {
    let buf = Shared::default();
    let mut bar = Progress::with_output(100, Output::new(Frontend::Jupyter, buf.clone())).every_millis(3_600_000);
    for _ in 0..50 {
        bar.inc(1);
    }
    bar.set_message("loss 0.31");
    assert_eq!(bar.plain_text(), "[#####.....] 50/100 loss 0.31");
    assert_eq!(buf.messages().len(), 1, "throttled: only the initial display");
    bar.inc(50);
    let msgs = buf.messages();
    assert_eq!(msgs.len(), 2, "reaching the total draws");
    assert_eq!(msgs[1].bundle.plain(), "[##########] 100/100 loss 0.31");
    assert!(msgs[1].bundle.get(TEXT_HTML).unwrap().contains("width:100.0%"));
    drop(bar);
    assert_eq!(buf.messages().len(), 2);

    let plain = Shared::default();
    let mut bar = Progress::with_output(4, Output::new(Frontend::Plain, plain.clone())).every_millis(0);
    bar.inc(2);
    drop(bar);
    assert_eq!(plain.lines(), vec!["[..........] 0/4", "[#####.....] 2/4"]);
}
