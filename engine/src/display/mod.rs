//! Rich display: tensors, images, figures and live outputs as mime bundles, and the
//! one-line protocol that carries them to a notebook or REPL front-end.
//!
//! - [`Render`] turns a value into a [`MimeBundle`] (`text/plain`, `text/html`,
//!   `image/png`, `image/svg+xml`). Implemented for [`Tensor`](crate::Tensor)
//!   (an HTML table), [`Image`], [`Figure`], [`LivePlot`], [`Progress`].
//! - [`show`] sends a value to the front-end: under `BORN_FRONTEND=jupyter` or
//!   `repl` a [`wire`] line on stdout that the session decodes; otherwise the
//!   `text/plain` form (plain programs and tests print text).
//! - `evcxr_display` methods make a cell's last expression show richly.
//! - [`LiveDisplay`] replaces its output in place; [`LivePlot`] and [`Progress`]
//!   build on it with throttled redraws.
//!
//! ```
//! use born::prelude::*;
//! use born::display::{Figure, Render};
//! let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]);
//! assert!(t.mime_bundle().get("text/html").unwrap().contains("shape=[2, 2]"));
//! let heat = t.heatmap(); // an Image: 200x200 viridis
//! assert_eq!(heat.width(), 200);
//! show(&heat); // prints `<image 200x200>` in a plain program
//! ```

mod bundle;
mod cells;
mod color;
mod figure;
mod font;
mod html;
mod image;
mod live;
mod live_plot;
mod output;
mod progress;
mod raster;
mod tensor_image;
mod text;
pub mod wire;

pub use bundle::{escape_html, MimeBundle, Render, IMAGE_PNG, IMAGE_SVG, TEXT_HTML, TEXT_PLAIN};
pub use figure::Figure;
pub use html::tensor_html;
pub use image::Image;
pub use live::{new_display_id, LiveDisplay};
pub use live_plot::LivePlot;
pub use output::{clear_output, show, show_result, Frontend, Output, FRONTEND_VAR};
pub use progress::Progress;
pub use wire::{Kind, WireMessage};
