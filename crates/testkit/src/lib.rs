//! Test helpers shared by the proxy's integration tests.
