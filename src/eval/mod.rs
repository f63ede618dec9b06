//! Evaluation: gold data, metrics, bootstrap intervals, calibration and
//! reports. The numeric core does no I/O.
