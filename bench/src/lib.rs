//! Shared helpers for Ballast's benches: locating `../shared/data`, measuring floors.
