// Builds go-containerregistry's small OCI registry, to which the test suite pushes the
// packaged chart as the release workflow does (tests/release), from its published Go module.
module fullon.io/ohlcv/toolchain/registry

go 1.25.0

tool github.com/google/go-containerregistry/cmd/registry

require github.com/google/go-containerregistry v0.22.1 // indirect
