// swift-tools-version:6.0
// NeuralCodec: a neural audio codec (SEANet + residual vector quantization) in Swift.
// Targets are grouped: C modules, libraries (bottom to top), the executable, test support, tests.
import PackageDescription

// Kernel targets are compiled with whole-module optimization in release; exclusivity checks off in the
// hot numeric modules (they only touch raw buffers opened once per layer).
let fastMath: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

// Kernels are written for SIMD8<Float>: on x86-64 compile the numeric targets for AVX2 + FMA (Haswell and
// later, AMD Zen), so SIMD8 maps to one ymm register and a·b + c to one vfmadd; baseline x86-64 is SSE2 only
// and would turn every fma into a libm call. The manifest is evaluated on the build host.
#if arch(x86_64)
let simd: [SwiftSetting] = fastMath + [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let simd: [SwiftSetting] = fastMath
#endif

let package = Package(
    name: "NeuralCodec",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "codec", targets: ["codec"]),
        .library(name: "AudioIO", targets: ["AudioIO"]),
        .library(name: "DSP", targets: ["DSP"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "RVQ", targets: ["RVQ"]),
        .library(name: "ModelFile", targets: ["ModelFile"]),
        .library(name: "Codec", targets: ["Codec"]),
        .library(name: "Metrics", targets: ["Metrics"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Tokens", targets: ["Tokens"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", exact: "0.9.20"),
    ],
    targets: [
        // MARK: C modules (system libraries from Debian's -dev packages, found through pkg-config)
        .systemLibrary(name: "CSndfile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CSoxr", pkgConfig: "soxr", providers: [.apt(["libsoxr-dev"])]),
        .systemLibrary(name: "CZlibSystem", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // MARK: Libraries, bottom to top
        .target(name: "AudioIO", dependencies: ["CSndfile", "CSoxr"]),
        .target(name: "DSP", dependencies: ["CFFTW"], swiftSettings: fastMath),
        .target(name: "NN", swiftSettings: simd),
        .target(name: "RVQ", dependencies: ["NN"], swiftSettings: simd),
        .target(name: "ModelFile", dependencies: [.product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .target(name: "Codec", dependencies: ["NN", "RVQ", "ModelFile", "AudioIO"], swiftSettings: simd),
        .target(name: "Metrics", dependencies: ["DSP", "NN", "RVQ", "Codec", "AudioIO", "CZlibSystem"], swiftSettings: fastMath),
        .target(name: "Training", dependencies: ["NN", "RVQ", "DSP", "Codec", "Metrics", "AudioIO", "ModelFile"], swiftSettings: simd),
        .target(name: "Tokens", dependencies: ["Codec", "ModelFile", "AudioIO", "NN"]),

        // MARK: The command-line tool
        .executableTarget(
            name: "codec",
            dependencies: [
                "AudioIO", "DSP", "NN", "RVQ", "ModelFile", "Codec", "Metrics", "Training", "Tokens",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Benchmarks (one executable per area, outside the test suite)
        .executableTarget(name: "bench-nn", dependencies: ["NN"], swiftSettings: simd),
        .executableTarget(name: "bench-dsp", dependencies: ["DSP"], swiftSettings: fastMath),
        .executableTarget(name: "bench-codec", dependencies: ["Codec", "AudioIO", "NN"], swiftSettings: simd),
        .executableTarget(name: "bench-rvq", dependencies: ["RVQ", "NN"], swiftSettings: simd),
        .executableTarget(name: "bench-eval", dependencies: ["Metrics", "Codec", "AudioIO", "NN"], swiftSettings: fastMath),
        .executableTarget(name: "bench-train", dependencies: ["Training", "Codec", "NN"], swiftSettings: simd),

        // MARK: Test support and tests
        .target(name: "TestSupport"),
        .testTarget(name: "AudioIOTests", dependencies: ["AudioIO", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "TestSupport"]),
        .testTarget(name: "RVQTests", dependencies: ["RVQ", "NN", "TestSupport"]),
        .testTarget(name: "ModelFileTests", dependencies: ["ModelFile", "TestSupport"]),
        .testTarget(name: "DSPTests", dependencies: ["DSP", "TestSupport"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "DSP", "Codec", "RVQ", "AudioIO", "TestSupport"]),
        .testTarget(name: "CodecTests", dependencies: ["Codec", "NN", "RVQ", "ModelFile", "AudioIO", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "NN", "RVQ", "DSP", "Codec", "Metrics", "ModelFile", "AudioIO", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["AudioIO", "TestSupport"]),
        .testTarget(name: "TokensTests", dependencies: ["Tokens", "Codec", "ModelFile", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
