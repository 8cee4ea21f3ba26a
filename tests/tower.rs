//! The bearer-token layer over real HTTP.
