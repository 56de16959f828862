// Training data: a corpus of audio files found under a directory (any format libsndfile reads, any rate),
// split into training and held-out files by a hash of the relative path, and random crops at the model
// rate, mono, loudness-normalised, in a seeded order that depends only on (seed, epoch, slot).
import AudioIO
import Foundation
import ModelFile
import NN

/// One audio file of a corpus.
public struct CorpusFile: Sendable, Equatable {
    /// Path relative to the corpus root, '/'-separated (the held-out hash is taken of it).
    public let relativePath: String
    public let path: String
    public let sampleRate: Int
    /// Frames at the file's own rate.
    public let frames: Int
    /// Frames at the model rate: ⌊frames·modelRate/sampleRate⌋.
    public let modelFrames: Int
}

/// The audio files under a directory, sorted by relative path, split into training and held-out files.
///
/// Held-out rule: FNV-1a 64 of the relative path's UTF-8 bytes, h; the file is held out when
/// (h >> 11)·2⁻⁵³ < `heldOutFraction`. Deterministic across runs, machines and corpus additions (a file's
/// side never changes when others are added), and held-out files are never read for training.
public struct AudioCorpus: Sendable {
    /// File extensions read (lowercased); other files (SOURCES.tsv, READMEs) are ignored.
    public static let audioExtensions: Set<String> = ["wav", "wave", "flac", "ogg", "oga", "opus", "mp3", "aif", "aiff",
                                                      "aifc", "au", "snd", "w64", "caf", "rf64"]
    public let root: String
    public let sampleRate: Int
    public let heldOutFraction: Double
    public let training: [CorpusFile]
    public let heldOut: [CorpusFile]

    /// Scans `directory` recursively (hidden files and directories skipped) and reads every audio file's
    /// header. Throws `noTrainingAudio` when nothing is left for training, and AudioIO's error (naming the
    /// file) for a file with an audio extension that libsndfile cannot open.
    public init(directory: String, sampleRate: Int, heldOutFraction: Double = 0.05) throws {
        guard sampleRate > 0 else {
            throw TrainingError.invalidParameter(name: "sample rate", value: "\(sampleRate)", reason: "must be positive")
        }
        guard heldOutFraction >= 0 && heldOutFraction < 1 else {
            throw TrainingError.invalidParameter(name: "held-out fraction", value: "\(heldOutFraction)", reason: "must be in [0, 1)")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw TrainingError.noTrainingAudio(directory: directory)
        }
        let rootURL = URL(fileURLWithPath: directory).standardizedFileURL
        var relatives = [String]()
        if let e = FileManager.default.enumerator(at: rootURL, includingPropertiesForKeys: [.isRegularFileKey],
                                                  options: [.skipsHiddenFiles]) {
            for case let url as URL in e where Self.audioExtensions.contains(url.pathExtension.lowercased()) {
                guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
                let full = url.standardizedFileURL.path
                relatives.append(String(full.dropFirst(rootURL.path.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/")))
            }
        }
        relatives.sort()
        var train = [CorpusFile](), held = [CorpusFile]()
        for rel in relatives {
            let path = rootURL.appendingPathComponent(rel).path
            var info = try AudioFile.info(path)
            // libsndfile reports SF_COUNT_MAX frames when the header does not give the length (e.g. a FLAC
            // stream written without its total): count them by decoding once.
            if info.frameCount >= 1 << 40 { info.frameCount = try AudioFile.read(path).frameCount }
            guard info.sampleRate > 0 else {
                throw TrainingError.invalidParameter(name: "audio file \(path)", value: "\(info.sampleRate) Hz", reason: "no sample rate")
            }
            let f = CorpusFile(relativePath: rel, path: path, sampleRate: info.sampleRate, frames: info.frameCount,
                               modelFrames: Int(Int64(info.frameCount) * Int64(sampleRate) / Int64(info.sampleRate)))
            if Self.isHeldOut(rel, fraction: heldOutFraction) { held.append(f) } else { train.append(f) }
        }
        guard !train.isEmpty else { throw TrainingError.noTrainingAudio(directory: directory) }
        root = rootURL.path; self.sampleRate = sampleRate; self.heldOutFraction = heldOutFraction
        training = train; heldOut = held
    }

    /// The held-out rule on a relative path.
    public static func isHeldOut(_ relativePath: String, fraction: Double) -> Bool {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a 64 offset basis
        for byte in relativePath.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return Double(h >> 11) * 0x1p-53 < fraction
    }

    /// Total training audio in seconds at the model rate.
    public var trainingSeconds: Double { Double(training.reduce(0) { $0 + $1.modelFrames }) / Double(sampleRate) }
}

/// Crop length, batch size, loudness rule and seed of a `DataLoader`.
public struct DataConfig: Sendable, Equatable {
    /// Samples per crop at the model rate (e.g. 24000 = 1 s at 24 kHz).
    public var cropLength: Int
    /// Crops per batch.
    public var batchSize: Int
    public var seed: UInt64 = 0
    /// Loudness normalisation: gain g = min(10^(target/20)/rms, 10^(peak/20)/peak, 10^(maxGain/20)) on each
    /// crop, i.e. RMS to `targetRMSDecibels` dBFS unless that would put the peak above `peakCeilingDecibels`
    /// dBFS or amplify by more than `maxGainDecibels`.
    public var targetRMSDecibels: Double = -20
    public var peakCeilingDecibels: Double = -1
    public var maxGainDecibels: Double = 30
    /// A crop whose RMS is below this (dBFS) is redrawn from the same file, up to `silenceRetries` times.
    public var silenceDecibels: Double = -60
    public var silenceRetries: Int = 8
    /// Batches prepared ahead on the loader thread.
    public var prefetch: Int = 2

    public init(cropLength: Int, batchSize: Int, seed: UInt64 = 0) {
        self.cropLength = cropLength; self.batchSize = batchSize; self.seed = seed
    }
}

/// Where the data stream is: the next crop is slot `index` of epoch `epoch`'s order.
public struct DataPosition: Sendable, Equatable, Codable {
    public var epoch: Int
    public var index: Int
    public init(epoch: Int = 0, index: Int = 0) { self.epoch = epoch; self.index = index }

    /// As named tensors: `data.epoch`, `data.index` (int64 [1]).
    public var state: [String: StoredTensor] {
        ["data.epoch": .integer(IntTensorData(shape: [1], values: [Int64(epoch)])),
         "data.index": .integer(IntTensorData(shape: [1], values: [Int64(index)]))]
    }

    public init(state: [String: StoredTensor], path: String = "checkpoint") throws {
        guard let e = state["data.epoch"]?.integerData?.values.first, let i = state["data.index"]?.integerData?.values.first,
              e >= 0, i >= 0 else {
            throw TrainingError.checkpoint(path: path, reason: "missing or malformed data.epoch / data.index")
        }
        epoch = Int(e); index = Int(i)
    }
}

/// Where one crop came from.
public struct CropInfo: Sendable, Equatable {
    public let file: String
    /// First sample at the file's own rate.
    public let sourceOffset: Int
    /// Gain applied (linear).
    public let gain: Float
}

/// A batch of crops: `audio` [B, 1, L] at the model rate, and `next`, the position after it.
public struct TrainingBatch: Sendable {
    public let audio: Tensor
    public let crops: [CropInfo]
    public let next: DataPosition
}

/// The deterministic crop sequence of a corpus. Epoch e's order is a seeded shuffle of slots, file i
/// contributing ⌈modelFrames_i / L⌉ slots (so long files are sampled in proportion to their length);
/// slot j's crop offset comes from a generator seeded by (seed, epoch, j, attempt). Nothing depends on
/// what was read before, so a position alone resumes the stream exactly.
public final class CropSampler: @unchecked Sendable {
    public let corpus: AudioCorpus
    public let config: DataConfig
    private let slotFiles: [Int]   // file index per slot, unshuffled
    private var cachedEpoch = -1
    private var cachedOrder: [Int] = []
    private let lock = NSLock()

    public init(corpus: AudioCorpus, config: DataConfig) throws {
        guard config.cropLength >= 1, config.batchSize >= 1 else {
            throw TrainingError.invalidParameter(name: "crop length / batch size", value: "\(config.cropLength) / \(config.batchSize)",
                                                 reason: "must be ≥ 1")
        }
        guard config.prefetch >= 1, config.silenceRetries >= 0 else {
            throw TrainingError.invalidParameter(name: "prefetch / silence retries", value: "\(config.prefetch) / \(config.silenceRetries)",
                                                 reason: "need prefetch ≥ 1 and retries ≥ 0")
        }
        self.corpus = corpus; self.config = config
        var slots = [Int]()
        for (i, f) in corpus.training.enumerated() {
            slots.append(contentsOf: repeatElement(i, count: max(1, (f.modelFrames + config.cropLength - 1) / config.cropLength)))
        }
        slotFiles = slots
    }

    /// Slots per epoch.
    public var epochLength: Int { slotFiles.count }

    /// File index of every slot of `epoch`, in order.
    func order(epoch: Int) -> [Int] {
        lock.lock(); defer { lock.unlock() }
        if epoch == cachedEpoch { return cachedOrder }
        var rng = TrainingRNG(seed: mix(config.seed, 0x45504f4348, UInt64(epoch)))
        var o = slotFiles
        for i in stride(from: o.count - 1, to: 0, by: -1) { o.swapAt(i, rng.index(i + 1)) }
        cachedEpoch = epoch; cachedOrder = o
        return o
    }

    /// The batch starting at `position`.
    public func batch(at position: DataPosition) throws -> TrainingBatch {
        let B = config.batchSize, L = config.cropLength
        var audio = Tensor.zeros([B, 1, L])
        var crops = [CropInfo]()
        var p = position
        for b in 0..<B {
            if p.index >= epochLength { p = DataPosition(epoch: p.epoch + 1, index: 0) }
            let file = corpus.training[order(epoch: p.epoch)[p.index]]
            let (samples, info) = try crop(file, epoch: p.epoch, slot: p.index)
            audio.data.replaceSubrange(b * L ..< (b + 1) * L, with: samples)
            crops.append(info)
            p.index += 1
        }
        if p.index >= epochLength { p = DataPosition(epoch: p.epoch + 1, index: 0) }
        return TrainingBatch(audio: audio, crops: crops, next: p)
    }

    private func crop(_ file: CorpusFile, epoch: Int, slot: Int) throws -> ([Float], CropInfo) {
        let L = config.cropLength
        let sourceLength = Int((Double(L) * Double(file.sampleRate) / Double(corpus.sampleRate)).rounded(.up))
        var best: ([Float], Int)? = nil
        for attempt in 0...config.silenceRetries {
            var rng = TrainingRNG(seed: mix(config.seed, UInt64(epoch), UInt64(slot), UInt64(attempt)))
            let offset = file.frames > sourceLength ? rng.index(file.frames - sourceLength + 1) : 0
            let x = try readAtModelRate(file, sourceOffset: offset, sourceLength: sourceLength, length: L)
            best = (x, offset)
            if rmsDecibels(x) >= config.silenceDecibels || file.frames <= sourceLength { break }
        }
        var (x, offset) = best!
        let gain = loudnessGain(x)
        for i in 0..<x.count { x[i] *= gain }
        return (x, CropInfo(file: file.relativePath, sourceOffset: offset, gain: gain))
    }

    /// The gain of `DataConfig`'s loudness rule for `x` (1 for digital silence).
    public func loudnessGain(_ x: [Float]) -> Float {
        var peak: Float = 0, sum = 0.0
        for v in x { peak = max(peak, abs(v)); sum += Double(v) * Double(v) }
        guard peak > 0 else { return 1 }
        let rms = (sum / Double(x.count)).squareRoot()
        let g = min(pow(10, config.targetRMSDecibels / 20) / rms, pow(10, config.peakCeilingDecibels / 20) / Double(peak),
                    pow(10, config.maxGainDecibels / 20))
        return Float(g)
    }

    private func rmsDecibels(_ x: [Float]) -> Double {
        var sum = 0.0
        for v in x { sum += Double(v) * Double(v) }
        return sum == 0 ? -.infinity : 10 * log10(sum / Double(x.count))
    }

    /// `L` samples at the model rate, mono (channel mean), from `sourceOffset` in the file, zero-padded past
    /// its end. A different rate is converted by soxr on the region with 0.05 s of context on both sides.
    func readAtModelRate(_ file: CorpusFile, sourceOffset: Int, sourceLength: Int, length L: Int) throws -> [Float] {
        let rate = corpus.sampleRate
        let margin = file.sampleRate == rate ? 0 : file.sampleRate / 20
        let start = max(0, sourceOffset - margin), end = min(file.frames, sourceOffset + sourceLength + margin)
        let reader = try AudioFileReader(path: file.path)
        try reader.seek(toFrame: start)
        var audio = AudioBuffer(sampleRate: file.sampleRate, channelCount: reader.info.channelCount, frames: 0)
        while audio.frameCount < end - start, let block = try reader.read(maxFrames: end - start - audio.frameCount) {
            audio.append(block)
        }
        audio = try audio.convertingChannels(to: 1)
        var skip = 0
        if file.sampleRate != rate {
            audio = try Resampler.resample(audio, to: rate)
            skip = Int((Double(sourceOffset - start) * Double(rate) / Double(file.sampleRate)).rounded())
        }
        var out = [Float](repeating: 0, count: L)
        let available = max(0, min(L, audio.samples.count - skip))
        for i in 0..<available { out[i] = audio.samples[skip + i] }
        return out
    }

    /// Deterministic evaluation clips from the held-out files: `maxClips` files spread evenly over the
    /// path-sorted list (so every top-level folder, e.g. music, sounds, speech, gets its share rather than
    /// the first folder alone), each `length` samples from its middle (zero-padded if shorter),
    /// loudness-normalised.
    public func heldOutClips(length: Int, maxClips: Int = .max) throws -> [(file: String, audio: [Float])] {
        let files = corpus.heldOut, n = min(max(0, maxClips), files.count)
        let picked = (0..<n).map { files[$0 * files.count / n] }
        return try picked.map { f in
            let srcLen = Int((Double(length) * Double(f.sampleRate) / Double(corpus.sampleRate)).rounded(.up))
            var x = try readAtModelRate(f, sourceOffset: max(0, (f.frames - srcLen) / 2), sourceLength: srcLen, length: length)
            let g = loudnessGain(x)
            for i in 0..<x.count { x[i] *= g }
            return (f.relativePath, x)
        }
    }
}

/// Mixes seeds and counters into one generator seed (SplitMix64 finalizer over a running combination).
func mix(_ values: UInt64...) -> UInt64 {
    var h: UInt64 = 0x243F_6A88_85A3_08D3
    for v in values {
        h ^= v &+ 0x9E37_79B9_7F4A_7C15 &+ (h << 6) &+ (h >> 2)
        var rng = TrainingRNG(seed: h)
        h = rng.next()
    }
    return h
}

/// Prepares batches of a `CropSampler` on a background thread, `prefetch` ahead, in order. `next()`
/// returns them in sequence; `position` is where the stream stands after the last batch returned (what a
/// checkpoint saves, however many batches are prefetched). The thread ends on `stop()` or when the loader
/// is released.
public final class DataLoader: @unchecked Sendable {
    public let sampler: CropSampler
    private let shared: LoaderQueue
    /// The position after the last batch handed out by `next()` (the start position before any).
    public private(set) var position: DataPosition

    public init(sampler: CropSampler, position: DataPosition = DataPosition()) {
        self.sampler = sampler
        self.position = position
        let shared = LoaderQueue(producing: position, depth: sampler.config.prefetch)
        self.shared = shared
        // The thread holds the queue and the sampler, never the loader, so releasing the loader stops it.
        let t = Thread { shared.produce(sampler) }
        t.name = "neuralcodec.data"
        t.start()
    }

    deinit { shared.stop() }

    /// The next batch (blocks until the loader thread has it). Rethrows a read error with the file named.
    public func next() throws -> TrainingBatch {
        let batch = try shared.take().get()
        position = batch.next
        return batch
    }

    /// Ends the loader thread (it finishes the batch it is reading first).
    public func stop() { shared.stop() }
}

/// The queue between a `DataLoader` and its thread.
private final class LoaderQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Result<TrainingBatch, Error>] = []
    private var producing: DataPosition
    private var stopped = false
    private let depth: Int

    init(producing: DataPosition, depth: Int) { self.producing = producing; self.depth = depth }

    func take() -> Result<TrainingBatch, Error> {
        condition.lock(); defer { condition.unlock() }
        while queue.isEmpty && !stopped { condition.wait() }
        guard !queue.isEmpty else {
            return .failure(TrainingError.invalidParameter(name: "data loader", value: "stopped", reason: "next() after stop()"))
        }
        let r = queue.removeFirst()
        condition.broadcast()
        return r
    }

    func stop() {
        condition.lock(); stopped = true; condition.broadcast(); condition.unlock()
    }

    func produce(_ sampler: CropSampler) {
        while true {
            condition.lock()
            while queue.count >= depth && !stopped { condition.wait() }
            if stopped { condition.unlock(); return }
            let at = producing
            condition.unlock()
            let r = Result { try sampler.batch(at: at) }
            condition.lock()
            queue.append(r)
            switch r {
            case .success(let b): producing = b.next
            case .failure: stopped = true  // the error is delivered; nothing after it
            }
            condition.broadcast()
            condition.unlock()
        }
    }
}
