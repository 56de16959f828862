// HTMLReport: one self-contained HTML page (inline CSS, inline SVG charts, PNG images as data URIs; no
// script, no network) for a per-stage report, a directory report, or a comparison of two files.
import Foundation

/// A line chart drawn as inline SVG: one polyline per series over shared axes with "nice" ticks.
public struct SVGLineChart {
    public struct Series {
        public var name: String
        /// CSS colour.
        public var color: String
        /// (x, y) points; nil or non-finite y values are left out (undefined or infinite metrics).
        public var points: [(x: Double, y: Double?)]
        public init(name: String, color: String, points: [(x: Double, y: Double?)]) {
            self.name = name; self.color = color; self.points = points
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Shown when no series has a finite point (e.g. "undefined (the reference is silent)").
    public var emptyMessage: String
    public var width = 560
    public var height = 300

    public init(title: String, xLabel: String, yLabel: String, series: [Series], emptyMessage: String = "no finite values") {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series; self.emptyMessage = emptyMessage
    }

    /// About `count` round tick values covering lo…hi (steps of 1, 2 or 5 × 10ⁿ).
    public static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        let span = hi - lo
        guard span > 0, span.isFinite else { return [lo] }
        let raw = span / Double(count)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var t = ceil(lo / step - 1e-9) * step
        var out: [Double] = []
        while t <= hi + step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    /// A tick value with as many decimals as the tick step needs (so neighbouring ticks never print alike).
    public static func label(_ v: Double, step: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e5 || abs(v) < 1e-4 { return String(format: "%.3g", v) }
        let decimals = step > 0 && step.isFinite ? Swift.max(0, Swift.min(6, Int(ceil(-log10(step) - 1e-9)))) : 3
        return String(format: "%.\(decimals)f", v)
    }

    /// A data value with 4 significant digits.
    static func label(_ v: Double) -> String { String(format: "%.4g", v) }

    public var svg: String {
        let finite = series.flatMap { s in s.points.compactMap { p in p.y.flatMap { $0.isFinite ? (p.x, $0) : nil } } }
        // A legend row under the title when there are several series (never over the data).
        let legendRows = series.count > 1 ? (series.count + 3) / 4 : 0
        let left = 62.0, right = 16.0, top = 30.0 + Double(legendRows) * 16, bottom = 46.0
        let pw = Double(width) - left - right, ph = Double(height) - top - bottom
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\">"
        s += "<title>\(escapeHTML(title))</title>"
        s += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#fff\"/>"
        s += "<text x=\"\(width / 2)\" y=\"19\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"600\">\(escapeHTML(title))</text>"
        guard !finite.isEmpty else {
            s += "<text x=\"\(width / 2)\" y=\"\(height / 2)\" text-anchor=\"middle\" font-size=\"13\" fill=\"#a33\">\(escapeHTML(emptyMessage))</text></svg>"
            return s
        }
        var xlo = finite.map(\.0).min()!, xhi = finite.map(\.0).max()!
        var ylo = finite.map(\.1).min()!, yhi = finite.map(\.1).max()!
        if xhi == xlo { xlo -= 0.5; xhi += 0.5 }
        if yhi == ylo { let d = Swift.max(abs(ylo) * 0.1, 0.5); ylo -= d; yhi += d }
        let pad = (yhi - ylo) * 0.06
        ylo -= pad; yhi += pad
        let xt = Self.ticks(xlo, xhi, count: 6), yt = Self.ticks(ylo, yhi)
        let xstep = xt.count > 1 ? xt[1] - xt[0] : 1, ystep = yt.count > 1 ? yt[1] - yt[0] : 1
        xlo = Swift.min(xlo, xt.first ?? xlo); xhi = Swift.max(xhi, xt.last ?? xhi)
        ylo = Swift.min(ylo, yt.first ?? ylo); yhi = Swift.max(yhi, yt.last ?? yhi)
        func px(_ x: Double) -> Double { left + (x - xlo) / (xhi - xlo) * pw }
        func py(_ y: Double) -> Double { top + (1 - (y - ylo) / (yhi - ylo)) * ph }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        for t in yt {
            s += "<line x1=\"\(f(left))\" x2=\"\(f(left + pw))\" y1=\"\(f(py(t)))\" y2=\"\(f(py(t)))\" stroke=\"#e4e4e4\"/>"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\" font-size=\"11\">\(Self.label(t, step: ystep))</text>"
        }
        for t in xt {
            s += "<line x1=\"\(f(px(t)))\" x2=\"\(f(px(t)))\" y1=\"\(f(top))\" y2=\"\(f(top + ph))\" stroke=\"#f0f0f0\"/>"
            s += "<text x=\"\(f(px(t)))\" y=\"\(f(top + ph + 16))\" text-anchor=\"middle\" font-size=\"11\">\(Self.label(t, step: xstep))</text>"
        }
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#888\"/>"
        s += "<text x=\"\(f(left + pw / 2))\" y=\"\(height - 8)\" text-anchor=\"middle\" font-size=\"12\">\(escapeHTML(xLabel))</text>"
        s += "<text transform=\"translate(14 \(f(top + ph / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">\(escapeHTML(yLabel))</text>"
        for (i, ser) in series.enumerated() {
            let pts = ser.points.compactMap { p in p.y.flatMap { $0.isFinite ? (p.x, $0) : nil } }
            if pts.count > 1 {
                s += "<polyline fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"2\" points=\"\(pts.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " "))\"/>"
            }
            for p in pts {
                s += "<circle cx=\"\(f(px(p.0)))\" cy=\"\(f(py(p.1)))\" r=\"3.2\" fill=\"\(ser.color)\"><title>\(escapeHTML(ser.name)): \(Self.label(p.1)) at \(Self.label(p.0))</title></circle>"
            }
            if series.count > 1 {
                let lx = left + Double(i % 4) * (pw / 4), ly = 40 + Double(i / 4) * 16
                s += "<rect x=\"\(f(lx))\" y=\"\(f(ly - 9))\" width=\"10\" height=\"10\" fill=\"\(ser.color)\"/>"
                s += "<text x=\"\(f(lx + 14))\" y=\"\(f(ly))\" font-size=\"11\">\(escapeHTML(ser.name))</text>"
            }
        }
        return s + "</svg>"
    }
}

/// `&`, `<`, `>`, `"` as entities.
public func escapeHTML(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

/// Self-contained HTML pages for the eval results.
public enum HTMLReport {
    /// A titled image (a PNG data URI).
    public struct Image {
        public var title: String
        public var dataURI: String
        public init(title: String, dataURI: String) { self.title = title; self.dataURI = dataURI }
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escapeHTML(title))</title>
        <style>
        body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1500px}
        h1{font-size:22px;margin:0 0 6px} h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
        .meta{color:#555;font-size:13px} .note{background:#fff6d6;border:1px solid #e8d48a;padding:6px 10px;margin:6px 0;font-size:13px}
        table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
        th,td{border:1px solid #ddd;padding:3px 8px;text-align:right} th{background:#f4f4f4} td.l,th.l{text-align:left}
        .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
        .charts svg{border:1px solid #ddd;width:100%;height:auto}
        .specs{display:grid;gap:10px} .specs figure{margin:0} .specs img{width:100%;height:auto;border:1px solid #ccc}
        figcaption{font-size:13px;margin-bottom:3px} .undef{color:#a33}
        </style></head><body>
        \(body)
        </body></html>
        """
    }

    static func cell(_ m: MetricResult, _ format: String) -> String {
        switch m {
        case .value(let v) where v.isFinite: return "<td>\(String(format: format, v))</td>"
        case .value(let v): return "<td>\(v > 0 ? "+inf" : "-inf")</td>"
        case .undefined: return "<td class=\"undef\">\(escapeHTML(m.description))</td>"
        }
    }

    static func notes(_ notes: [String]) -> String {
        notes.map { "<div class=\"note\">\(escapeHTML($0))</div>" }.joined()
    }

    static func spectrograms(_ images: [Image], sampleRate: Int) -> String {
        guard !images.isEmpty else { return "" }
        var s = "<h2>Log-mel spectrograms</h2><div class=\"meta\">128 Slaney mel bands from 0 Hz (bottom) to \(sampleRate / 2) Hz (top), n_fft 1024, hop 256; one dB scale for all, 80 dB from the reference's peak</div><div class=\"specs\" style=\"grid-template-columns:repeat(\(Swift.min(images.count, 4)),1fr)\">"
        for im in images {
            s += "<figure><figcaption>\(escapeHTML(im.title))</figcaption><img alt=\"\(escapeHTML(im.title))\" src=\"\(im.dataURI)\"></figure>"
        }
        return s + "</div>"
    }

    /// The metrics charted against bitrate, with their axis label and how to read the values.
    static let chartedMetrics: [(title: String, unit: String, pick: (StageFigures) -> Double?)] = [
        ("SNR (higher is better)", "dB", { $0.quality.snr.value }),
        ("SI-SDR (higher is better)", "dB", { $0.quality.siSDR.value }),
        ("Multi-resolution STFT loss (lower is better)", "loss", { $0.quality.mrSTFT.value }),
        ("Log-mel distance (lower is better)", "mean |Δ log10 mel|", { $0.quality.logMel.value }),
        ("Latent residual energy left (lower is better)", "dB re. latent energy", {
            $0.latentRelativeResidual > 0 ? 10 * log10($0.latentRelativeResidual) : nil }),
        ("Entropy of the stage's codebook", "bits per frame", { $0.codebook.entropyBits }),
    ]

    static func stageTable(_ stages: [StageFigures]) -> String {
        var s = "<table><tr><th>stages</th><th>kbps</th><th>entropy kbps</th><th>SNR dB</th><th>SI-SDR dB</th><th>MR-STFT</th><th>log-mel</th><th>latent residual</th><th>codebook entropy (bits)</th><th>used / dead codes</th><th>effective bits</th></tr>"
        for r in stages {
            s += "<tr><td>\(r.stages)</td><td>\(String(format: "%.2f", r.kbps))</td><td>\(String(format: "%.2f", r.entropyKbps))</td>"
            s += cell(r.quality.snr, "%.2f") + cell(r.quality.siSDR, "%.2f") + cell(r.quality.mrSTFT, "%.4f") + cell(r.quality.logMel, "%.4f")
            s += "<td>\(String(format: "%.4f", r.latentRelativeResidual))</td><td>\(String(format: "%.3f", r.codebook.entropyBits))</td>"
            s += "<td>\(r.codebook.usedCodes) / \(r.codebook.deadCodes)</td><td>\(String(format: "%.3f", r.effectiveBits))</td></tr>"
        }
        return s + "</table>"
    }

    /// The page for one input: metadata, per-stage table, a chart per metric against bitrate, spectrograms.
    public static func stageReport(_ r: StageReport, images: [Image], notes extra: [String] = []) -> String {
        var body = "<h1>Per-stage quality: \(escapeHTML((r.path as NSString).lastPathComponent))</h1>"
        body += "<div class=\"meta\">\(escapeHTML(r.path)) · model \(escapeHTML(r.modelName)) · \(r.sampleRate) Hz, \(r.channels) ch, "
        body += String(format: "%.2f s", r.duration) + " · \(r.latentFrames) latent frames · "
        body += String(format: "encode %.2f s, %d decodes %.2f s, metrics %.2f s", r.encodeSeconds, r.stages.count, r.decodeSeconds, r.measureSeconds) + "</div>"
        body += notes(extra)
        body += "<h2>Quality against bitrate</h2><div class=\"charts\">"
        for m in chartedMetrics {
            let pts = r.stages.map { (x: $0.kbps, y: m.pick($0)) }
            let reason = r.stages.first.map { undefinedReason(m.title, $0) } ?? "no stages"
            body += SVGLineChart(title: m.title, xLabel: "bitrate (kbps)", yLabel: m.unit,
                                 series: [.init(name: r.modelName, color: palette[0], points: pts)], emptyMessage: reason).svg
        }
        body += "</div><h2>Per stage</h2>" + stageTable(r.stages)
        body += spectrograms(images, sampleRate: r.sampleRate)
        return page(title: "codec eval: \((r.path as NSString).lastPathComponent)", body: body)
    }

    static func undefinedReason(_ title: String, _ s: StageFigures) -> String {
        let m: MetricResult? = title.hasPrefix("SNR") ? s.quality.snr : title.hasPrefix("SI-SDR") ? s.quality.siSDR
            : title.hasPrefix("Multi") ? s.quality.mrSTFT : title.hasPrefix("Log-mel") ? s.quality.logMel : nil
        if let m, case .undefined = m { return m.description }
        return "no finite values"
    }

    /// The page for a directory: means over all files and per category, charted against bitrate; per-file table.
    public static func directoryReport(_ d: DirectoryStageReport, notes extra: [String] = []) -> String {
        var body = "<h1>Per-stage quality: \(escapeHTML(d.root))</h1>"
        let model = d.files.first?.report.modelName ?? ""
        body += "<div class=\"meta\">\(d.files.count) files · model \(escapeHTML(model)) · \(d.categories.count) categories</div>"
        body += notes(extra)
        var groups: [(String, [StageMeans])] = [("all files (\(d.files.count))", d.means)]
        groups += d.categories.map { ("\($0.name) (\($0.files))", $0.means) }
        let charted: [(String, String, (StageMeans) -> Double?)] = [
            ("SNR (higher is better)", "dB", { $0.snr.mean.value }),
            ("SI-SDR (higher is better)", "dB", { $0.siSDR.mean.value }),
            ("Multi-resolution STFT loss (lower is better)", "loss", { $0.mrSTFT.mean.value }),
            ("Log-mel distance (lower is better)", "mean |Δ log10 mel|", { $0.logMel.mean.value }),
            ("Latent residual energy left (lower is better)", "dB re. latent energy", {
                $0.latentRelativeResidual > 0 ? 10 * log10($0.latentRelativeResidual) : nil }),
            ("Entropy of the stage's codebook", "bits per frame", { $0.entropyBits }),
        ]
        body += "<h2>Mean quality against bitrate</h2><div class=\"charts\">"
        for (title, unit, pick) in charted {
            let series = groups.enumerated().map { i, g in
                SVGLineChart.Series(name: g.0, color: palette[i % palette.count], points: g.1.map { (x: $0.kbps, y: pick($0)) })
            }
            body += SVGLineChart(title: title, xLabel: "bitrate (kbps)", yLabel: unit, series: series).svg
        }
        body += "</div>"
        for (name, means) in groups {
            body += "<h2>Means: \(escapeHTML(name))</h2><table><tr><th>stages</th><th>kbps</th><th>SNR dB</th><th>SI-SDR dB</th><th>MR-STFT</th><th>log-mel</th><th>latent residual</th><th>entropy (bits)</th><th>dead codes</th></tr>"
            for m in means {
                body += "<tr><td>\(m.stages)</td><td>\(String(format: "%.2f", m.kbps))</td>"
                for (mm, fmt) in [(m.snr, "%.2f"), (m.siSDR, "%.2f"), (m.mrSTFT, "%.4f"), (m.logMel, "%.4f")] {
                    var c = cell(mm.mean, fmt)
                    if mm.definedFiles < mm.files { c = c.replacingOccurrences(of: "</td>", with: " (\(mm.definedFiles) of \(mm.files) files)</td>") }
                    body += c
                }
                body += "<td>\(String(format: "%.4f", m.latentRelativeResidual))</td><td>\(String(format: "%.3f", m.entropyBits))</td><td>\(String(format: "%.1f", m.deadCodes))</td></tr>"
            }
            body += "</table>"
        }
        if let k = d.means.last?.stages {
            body += "<h2>Files at \(k) stages</h2><table><tr><th class=\"l\">file</th><th class=\"l\">category</th><th>SNR dB</th><th>SI-SDR dB</th><th>MR-STFT</th><th>log-mel</th></tr>"
            for f in d.files {
                let q = f.report.stages[k - 1].quality
                body += "<tr><td class=\"l\">\(escapeHTML(f.relativePath))</td><td class=\"l\">\(escapeHTML(f.category ?? "—"))</td>"
                body += cell(q.snr, "%.2f") + cell(q.siSDR, "%.2f") + cell(q.mrSTFT, "%.4f") + cell(q.logMel, "%.4f") + "</tr>"
            }
            body += "</table>"
        }
        return page(title: "codec eval: \(d.root)", body: body)
    }

    /// The page comparing a degraded file with its reference.
    public static func comparison(reference: String, degraded: String, sampleRate: Int, channels: Int, length: Int,
                                  figures: QualityFigures, images: [Image], notes extra: [String] = []) -> String {
        var body = "<h1>Comparison: \(escapeHTML((degraded as NSString).lastPathComponent)) against \(escapeHTML((reference as NSString).lastPathComponent))</h1>"
        body += "<div class=\"meta\">reference \(escapeHTML(reference)) · degraded \(escapeHTML(degraded)) · compared at \(sampleRate) Hz, \(channels) ch, "
        body += String(format: "%.2f s", Double(length) / Double(sampleRate)) + "</div>" + notes(extra)
        body += "<h2>Metrics</h2><table><tr><th class=\"l\">metric</th><th>value</th></tr>"
        for (name, m, fmt) in [("SNR (dB, higher is better)", figures.snr, "%.2f"), ("SI-SDR (dB, higher is better)", figures.siSDR, "%.2f"),
                               ("MR-STFT loss (lower is better)", figures.mrSTFT, "%.4f"), ("log-mel distance (lower is better)", figures.logMel, "%.4f")] {
            body += "<tr><td class=\"l\">\(name)</td>\(cell(m, fmt))</tr>"
        }
        body += "</table>" + spectrograms(images, sampleRate: sampleRate)
        return page(title: "codec eval: \(degraded)", body: body)
    }
}
