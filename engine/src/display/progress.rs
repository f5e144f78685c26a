//! [`Progress`]: a progress bar that updates in place.

use super::bundle::{escape_html, MimeBundle, Render, TEXT_HTML};
use super::live::{LiveDisplay, Throttle};
use super::output::Output;
use std::time::Duration;

/// A progress bar: `[#####.....] 50/100 loss 0.31` as text, a styled bar in HTML.
///
/// Updates are throttled (at most every 100 ms by default); reaching the total and
/// [`Progress::finish`] (or drop) always draw, so the final state is shown.
///
/// ```no_run
/// use born::display::Progress;
/// let mut bar = Progress::new(100);
/// for i in 0..100 {
///     bar.set_message(format!("loss {:.2}", 1.0 / (i as f64 + 1.0)));
///     bar.inc(1);
/// }
/// ```
pub struct Progress {
    state: State,
    display: LiveDisplay,
    throttle: Throttle,
}

/// What is drawn: separate from the display so it can render itself.
#[derive(Clone, Debug)]
struct State {
    done: u64,
    total: u64,
    message: String,
    width: usize,
}

impl Progress {
    /// A bar from 0 to `total`, shown on stdout.
    pub fn new(total: u64) -> Progress {
        Progress::with_output(total, Output::stdout())
    }

    /// Like [`Progress::new`], on a given output.
    pub fn with_output(total: u64, out: Output) -> Progress {
        let state = State {
            done: 0,
            total,
            message: String::new(),
            width: 10,
        };
        Progress {
            display: LiveDisplay::with_output(&state, out),
            state,
            throttle: Throttle::new(Duration::from_millis(100), None),
        }
    }

    /// Redraws at most every `ms` milliseconds (0: on every change).
    pub fn every_millis(mut self, ms: u64) -> Progress {
        self.throttle.every = Duration::from_millis(ms);
        self
    }

    /// The number of `#`/`.` cells of the text bar (10 by default).
    pub fn width(mut self, cells: usize) -> Progress {
        self.state.width = cells.max(1);
        self
    }

    /// Advances by `n`.
    pub fn inc(&mut self, n: u64) {
        self.state.done = self.state.done.saturating_add(n);
        self.changed();
    }

    /// Sets the position.
    pub fn set_position(&mut self, done: u64) {
        self.state.done = done;
        self.changed();
    }

    /// Sets the text after the counts, e.g. `loss 0.31`.
    pub fn set_message(&mut self, message: impl Into<String>) {
        self.state.message = message.into();
        self.changed();
    }

    /// The position.
    pub fn position(&self) -> u64 {
        self.state.done
    }

    /// Draws the current state if it has not been drawn.
    pub fn finish(&mut self) {
        if self.throttle.dirty() {
            self.redraw();
        }
    }

    fn changed(&mut self) {
        // Reaching the total draws at once: the bar may not be touched again.
        if self.throttle.tick(1) || self.state.done >= self.state.total {
            self.redraw();
        }
    }

    fn redraw(&mut self) {
        self.display.update(&self.state);
        self.throttle.drawn();
    }
}

impl Drop for Progress {
    /// A loop that ends early still shows where it stopped.
    fn drop(&mut self) {
        self.finish();
    }
}

impl Render for Progress {
    fn mime_bundle(&self) -> MimeBundle {
        self.state.mime_bundle()
    }

    fn plain_text(&self) -> String {
        self.state.plain_text()
    }
}

impl State {
    /// The completed fraction in 0..=1 (an empty total counts as complete).
    fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            (self.done as f64 / self.total as f64).min(1.0)
        }
    }

    /// `50/100 loss 0.31`.
    fn counts(&self) -> String {
        let mut s = format!("{}/{}", self.done, self.total);
        if !self.message.is_empty() {
            s.push(' ');
            s.push_str(&self.message);
        }
        s
    }
}

impl Render for State {
    fn mime_bundle(&self) -> MimeBundle {
        let pct = self.fraction() * 100.0;
        let html = format!(
            "<div class=\"born-progress\" style=\"display:flex;align-items:center;gap:8px;font-family:monospace;font-size:12px\">\
             <div style=\"width:240px;height:12px;background:#e5e5e5;border-radius:3px;overflow:hidden\">\
             <div style=\"width:{pct:.1}%;height:100%;background:#1f77b4\"></div></div>\
             <span>{} ({pct:.0}%)</span></div>",
            escape_html(&self.counts())
        );
        MimeBundle::text(self.plain_text()).with(TEXT_HTML, html)
    }

    fn plain_text(&self) -> String {
        let filled = ((self.fraction() * self.width as f64).round() as usize).min(self.width);
        format!(
            "[{}{}] {}",
            "#".repeat(filled),
            ".".repeat(self.width - filled),
            self.counts()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(done: u64, total: u64, message: &str) -> State {
        State {
            done,
            total,
            message: message.into(),
            width: 10,
        }
    }

    #[test]
    fn text_bar() {
        assert_eq!(
            state(50, 100, "loss 0.31").plain_text(),
            "[#####.....] 50/100 loss 0.31"
        );
        assert_eq!(state(0, 100, "").plain_text(), "[..........] 0/100");
        assert_eq!(state(150, 100, "").plain_text(), "[##########] 150/100");
        assert_eq!(state(0, 0, "").plain_text(), "[##########] 0/0");
    }

    #[test]
    fn html_bar_escapes_the_message() {
        let html = state(1, 4, "<b>").mime_bundle().get(TEXT_HTML).unwrap().to_string();
        assert!(html.contains("width:25.0%") && html.contains("&lt;b&gt;") && !html.contains("<b>"));
    }
}
