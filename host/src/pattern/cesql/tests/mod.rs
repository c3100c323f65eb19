//! Tests of the CESQL engine: the TCK, unit tests and property tests.

mod props;
mod tck;
mod unit;
