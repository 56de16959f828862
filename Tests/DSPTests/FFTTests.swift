import Foundation
import XCTest
import DSP
import TestSupport

final class FFTTests: XCTestCase {
    func testRealFFTMatchesNumpyRfft() throws {
        for n in [45, 64] {
            let f = try DSPFixture.load("rfft_\(n)")
            let fft = try RealFFT(size: n)
            let (re, im) = try fft.forward(f.array("x"))
            XCTAssertNil(complexMismatch(real: re, imag: im, expectedReal: f.array("real"), expectedImag: f.array("imag")),
                         "rfft \(n)")
            let back = try fft.inverse(real: re, imag: im)
            XCTAssertNil(fixtureMismatch(back, f.array("x")), "irfft(rfft(x)) \(n)")
        }
    }

    func testMatchesScalarReferenceOnAwkwardSizes() throws {
        var rng = SeededRNG(seed: 3)
        for n in [1, 2, 3, 7, 12, 97, 100, 243] {
            let x = rng.floats(n)
            let (re, im) = try RealFFT(size: n).forward(x)
            let ref = RealFFT.referenceForward(x)
            XCTAssertNil(complexMismatch(real: re, imag: im, expectedReal: ref.real.map(Float.init),
                                         expectedImag: ref.imag.map(Float.init)), "size \(n)")
        }
    }

    func testInverseIgnoresImaginaryPartsOfDCAndNyquist() throws {
        var rng = SeededRNG(seed: 4)
        let fft = try RealFFT(size: 16)
        let re = rng.floats(9); var im = rng.floats(9)
        im[0] = 0; im[8] = 0
        let clean = try fft.inverse(real: re, imag: im)
        im[0] = 5; im[8] = -3
        XCTAssertEqual(try fft.inverse(real: re, imag: im), clean)
    }

    func testPlansAreCreatedOncePerSizeAndReused() throws {
        _ = try RealFFT(size: 210)
        let after = FFTPlanning.planCount
        for _ in 0..<3 { _ = try RealFFT(size: 210).forward([Float](repeating: 1, count: 210)) }
        XCTAssertEqual(FFTPlanning.planCount, after, "same size must reuse the cached plans")
        _ = try RealFFT(size: 252)
        XCTAssertEqual(FFTPlanning.planCount, after + 2, "a new size adds one r2c and one c2r plan")
    }

    func testConcurrentPlanningAndExecutionGiveSerialResults() throws {
        var rng = SeededRNG(seed: 5)
        let sizes = [30, 31, 32, 33, 34, 35, 36, 37]
        let inputs = sizes.map { rng.floats($0) }
        let serial = try zip(sizes, inputs).map { try RealFFT(size: $0).forward($1).real }
        var parallel = [[Float]](repeating: [], count: 64)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            let j = i % sizes.count
            let r = try! RealFFT(size: sizes[j] + 100 * (i / sizes.count % 2)).forward(
                i / sizes.count % 2 == 0 ? inputs[j] : inputs[j] + [Float](repeating: 0, count: 100)).real
            lock.lock(); parallel[i] = r; lock.unlock()
        }
        for i in 0..<64 where (i / sizes.count) % 2 == 0 {
            XCTAssertEqual(parallel[i], serial[i % sizes.count], "size \(sizes[i % sizes.count]) from thread \(i)")
        }
    }

    func testEstimateRigorMakesItsOwnPlansWithTheSameResults() throws {
        var rng = SeededRNG(seed: 6)
        let x = rng.floats(40)
        FFTPlanning.rigor = .measure  // process-wide: other tests (the trainer's) may have left it at .estimate
        let measured = try RealFFT(size: 40).forward(x)
        let before = FFTPlanning.planCount
        FFTPlanning.rigor = .estimate
        defer { FFTPlanning.rigor = .measure }
        let estimated = try RealFFT(size: 40).forward(x)
        XCTAssertEqual(FFTPlanning.planCount, before + 2, "the cache key includes the rigor")
        XCTAssertNil(complexMismatch(real: estimated.real, imag: estimated.imag,
                                     expectedReal: measured.real, expectedImag: measured.imag))
    }

    func testBadSizesThrow() {
        XCTAssertThrowsError(try RealFFT(size: 0)) { XCTAssert("\($0)".contains("FFT size")) }
        XCTAssertThrowsError(try RealFFT(size: 8).forward([1, 2, 3]))
        XCTAssertThrowsError(try RealFFT(size: 8).inverse(real: [1], imag: [1]))
    }
}
