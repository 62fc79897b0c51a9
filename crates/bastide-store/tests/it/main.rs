//! Storage on real files: encrypted Parquet written, then read back through DataFusion.

mod encrypted;
