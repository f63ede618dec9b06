//! Evaluation: gold data, metrics, bootstrap intervals, calibration and
//! reports. The numeric core does no I/O.
pub mod score;
pub mod gold;
pub mod experiment;
pub mod report;
pub mod kinds;
pub mod html;
pub mod calibrate;
