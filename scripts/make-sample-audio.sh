#!/usr/bin/env bash
# Makes the bundled sample audio in Resources/samples/ from Debian's packages (espeak-ng, sox).
# Deterministic for the same package versions; the versions used are written to Resources/samples/SOURCES.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=Resources/samples
mkdir -p "$out"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

need() { command -v "$1" >/dev/null || { echo "make-sample-audio: $1 is missing (apt-get install $2)" >&2; exit 1; }; }
need espeak-ng espeak-ng
need sox sox

# 1. English speech, 24 kHz mono 16-bit WAV (the codec's native format).
espeak-ng -v en-us -s 150 -w "$tmp/en.wav" \
  "NeuralCodec turns audio into discrete tokens and back. Every stage of the quantizer adds detail to the sound."
sox "$tmp/en.wav" -r 24000 -c 1 -b 16 "$out/speech-en-24k.wav" rate -v gain -n -3

# 2. A stereo 48 kHz FLAC: German speech on the left, French on the right, over a soft synthesized chord.
espeak-ng -v de -s 140 -w "$tmp/de.wav" "Guten Tag. Dies ist eine kurze Aufnahme."
espeak-ng -v fr -s 140 -w "$tmp/fr.wav" "Bonjour. Ceci est un court enregistrement."
sox "$tmp/de.wav" -r 48000 "$tmp/de48.wav" rate -v pad 0 1
sox "$tmp/fr.wav" -r 48000 "$tmp/fr48.wav" rate -v pad 0.3 1
len=$(soxi -D "$tmp/de48.wav")
sox -n -r 48000 -c 1 "$tmp/chord.wav" synth "$len" sine 220 sine 277.18 sine 329.63 remix - gain -30
sox -M "$tmp/de48.wav" "$tmp/fr48.wav" "$tmp/lr.wav" trim 0 "$len"
sox -m -v 1 "$tmp/lr.wav" -v 1 "$tmp/chord.wav" -c 2 "$tmp/mix.wav" 2>/dev/null || \
  sox -m "$tmp/lr.wav" "$tmp/chord.wav" "$tmp/mix.wav" remix -m 1,3 2,3
sox "$tmp/mix.wav" -b 16 "$out/speech-music-48k-stereo.flac" trim 0 3.5 gain -n -3

cat > "$out/SOURCES.md" <<EOT
# Sample audio

Made by \`scripts/make-sample-audio.sh\` from Debian's packages; nothing was recorded or downloaded.

| file | content | made with |
|---|---|---|
| speech-en-24k.wav | English synthetic speech, 24 kHz mono, 16-bit PCM | espeak-ng $(dpkg-query -W -f='${Version}' espeak-ng 2>/dev/null || echo '?'), sox $(dpkg-query -W -f='${Version}' sox 2>/dev/null || echo '?') |
| speech-music-48k-stereo.flac | German speech (left), French speech (right), a synthesized A-major chord, 48 kHz stereo, 16-bit FLAC | espeak-ng, sox |

Licence: the speech is synthesized by eSpeak NG (GPL-3.0-or-later; its output is not covered by the
program's licence) and the chord by sox's synthesizer; both files are released with this project under its
licence.
EOT
ls -la "$out"
