//! labels (to be written)
