// Window functions used by the STFT.
import Foundation

public enum Window {
    /// Hann window of length `n`: w[i] = 0.5 − 0.5·cos(2πi/D), D = n if periodic (the default) else n − 1.
    /// ref: torch.hann_window(n, periodic=True), scipy.signal.get_window('hann', n) (fftbins=True).
    public static func hann(_ n: Int, periodic: Bool = true) -> [Float] {
        precondition(n > 0, "Window.hann: length must be positive")
        if n == 1 { return [1] }
        let denom = Double(periodic ? n : n - 1)
        return (0..<n).map { i in Float(0.5 - 0.5 * cos(2 * Double.pi * Double(i) / denom)) }
    }
}
