//! Evaluation: gold data, metrics, bootstrap intervals, calibration and
//! reports. The numeric core (`score`, `experiment`, `calibrate`, `kinds`)
//! does no I/O; `gold` reads files and `report`/`html`/`svg` render.

pub mod score;
pub mod gold;
pub mod experiment;
pub mod report;
pub mod kinds;
pub mod html;
pub mod svg;
pub mod calibrate;
pub mod matrix;
pub mod review;
