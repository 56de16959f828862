#!/usr/bin/env bash
# Builds a training corpus for `codec train` from what Debian's packages ship: speech (espeak-ng voices in
# every language it has, festival voices, real dialog recordings from game packages), music (recordings
# from game packages, MIDI rendered with fluidsynth + FluidR3 GM) and everyday sounds (sound themes, game
# effects). Usage: scripts/make-training-data.sh [OUT_DIR]   (default: data/, gitignored)
#
# Output: OUT/{speech,music,sounds}/<source>/*.flac, all 24 kHz mono 16-bit FLAC (`sox -G … rate -v`), and
# OUT/SOURCES.tsv: one row per source with its category, directory, Debian package, version, licence (the
# License: fields of the package's copyright file), file count and duration. Deterministic for the same
# package versions (espeak/festival texts are gettext catalog strings chosen in a fixed order). Needs root
# for apt-get (packages: espeak-ng festival festvox-* fluidsynth fluid-soundfont-gm sox gettext).
# Takes about an hour on 2 shared cores (espeak-ng and festival most of it). A source whose directory already
# holds files is kept (delete the directory to rebuild it); SOURCES.tsv is always rewritten.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-data}
RATE=24000
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CACHE="$OUT/.cache"          # downloaded .debs and their extracted trees (delete to save space)
mkdir -p "$CACHE/debs" "$CACHE/x"
TSV="$OUT/SOURCES.tsv"
printf 'category\tdirectory\tpackage\tversion\tlicence\tfiles\tseconds\tnotes\n' > "$TSV"
log() { echo "make-training-data: $*" >&2; }

# ---------------------------------------------------------------------------------------------- tools
TOOLS=(espeak-ng espeak-ng-data festival festlex-cmu festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
       festvox-italp16k festvox-itapc16k festvox-czech-dita festvox-suopuhe-lj festvox-suopuhe-common
       festvox-ca-ona-hts fluidsynth fluid-soundfont-gm sox libsox-fmt-all gettext)
missing=()
for p in "${TOOLS[@]}"; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Licence of an installed or extracted package: the distinct License: values of its DEP-5 copyright file,
# or the first GPL/BSD/… mention of a free-form one.
licence_of() { # copyright-file
  local f=$1
  [[ -f $f ]] || { echo "unknown (no copyright file)"; return; }
  local l
  l=$(grep -E '^License:' "$f" | sed -E 's/^License:[[:space:]]*//' | awk 'NF && !seen[$0]++' | paste -sd ';' - | sed 's/;/; /g')
  if [[ -z $l ]]; then  # free-form file: the licence names it mentions, in order of first mention
    l=$(grep -oE '\b(GNU (Lesser |Library )?General Public License|L?GPL-?[0-9][0-9.]*\+?|MIT [Ll]icen[sc]e|BSD|Creative Commons[A-Za-z -]*[0-9.]*|CC-BY[-A-Z]*[0-9.]*|[Pp]ublic [Dd]omain|Artistic [Ll]icen[sc]e|Permission is hereby granted, free of charge)' "$f" \
        | sed -E 's/^Permission is hereby granted, free of charge$/MIT-style grant/; s/^GNU General Public License$/GPL/; s/^GNU (Lesser|Library) General Public License$/LGPL/' \
        | awk '!seen[$0]++' | head -3 | paste -sd ';' - | sed 's/;/; /g') || true
    local v; v=$(grep -oE 'either version [0-9.]+' "$f" | head -1 | grep -oE '[0-9.]+$') || true
    [[ -n $v ]] && l=${l/GPL/GPL-$v+}
    [[ -n $l ]] && l="free-form, mentions: $l"
  fi
  echo "${l:-see copyright file}"
}
installed_version() { dpkg-query -W -f '${Version}' "$1"; }

# Total duration in seconds of the .flac files under a directory.
seconds_in() { find "$1" -name '*.flac' -print0 | xargs -0 -r soxi -D 2>/dev/null | awk '{s+=$1} END{printf "%.1f", s}'; }
record() { # category dir package version licence notes
  local n; n=$(find "$OUT/$2" -name '*.flac' | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$n" "$(seconds_in "$OUT/$2")" "$6" >> "$TSV"
  log "$2: $n files"
}
# True when a source was built by an earlier run (its directory holds files): it is kept, not rebuilt.
built() { [[ -n $(ls -A "$OUT/$1" 2>/dev/null) ]] && log "$1: kept from an earlier run"; }
# Any audio file → 24 kHz mono 16-bit FLAC (channel mean, sox's high-quality resampler, guarded gain).
# Inputs that decode to nothing (a few game .ogg files) leave a header-only FLAC (< 200 bytes): removed.
to_flac() {
  sox -G -q "$1" -c 1 -b 16 "$2" rate -v "$RATE" 2>/dev/null || { log "skipped unreadable $1"; rm -f "$2"; return 0; }
  [[ $(stat -c %s "$2") -gt 200 ]] || { log "skipped empty $1"; rm -f "$2"; }
}

# Downloads and unpacks a package without installing it; prints the tree's root.
unpack() { # package
  local p=$1 deb
  if [[ ! -d "$CACHE/x/$p" ]]; then
    (cd "$CACHE/debs" && apt-get download -q "$p" >/dev/null 2>&1) || { apt-get update -qq && (cd "$CACHE/debs" && apt-get download -q "$p" >/dev/null); }
    deb=$(ls "$CACHE/debs/${p}"_*.deb | head -1)
    mkdir -p "$CACHE/x/$p"; dpkg-deb -x "$deb" "$CACHE/x/$p"
  fi
  echo "$CACHE/x/$p"
}
deb_version() { dpkg-deb -f "$(ls "$CACHE/debs/${1}"_*.deb | head -1)" Version; }

# Converts files matching a find expression in an unpacked package into OUT/<dir>, names flattened.
from_package() { # category dir package notes subpath find-args...
  local cat=$1 dir=$2 p=$3 notes=$4 sub=$5; shift 5
  local root; root=$(unpack "$p")
  built "$dir" || { mkdir -p "$OUT/$dir"; while IFS= read -r -d '' f; do
    local rel=${f#"$root/$sub/"}; rel=${rel//\//_}
    to_flac "$f" "$OUT/$dir/${rel%.*}.flac"
  done < <(find "$root/$sub" "$@" -type f -print0 | sort -z); }
  record "$cat" "$dir" "$p" "$(deb_version "$p")" "$(licence_of "$root/usr/share/doc/$p/copyright")" "$notes"
}

# ------------------------------------------------------------------------------------ text for TTS
# Sentences in a language from the gettext catalogs installed under /usr/share/locale (translated UI
# strings of many packages): msgstr for a language code, msgid (English) for "en". Lines of 40–200
# characters without format directives, in a fixed order, deduplicated.
sentences() { # lang count
  local lang=$1 count=$2 dir mo
  local tmp; tmp=$(mktemp)
  if [[ $lang == en ]]; then dir=/usr/share/locale/de/LC_MESSAGES; else dir=/usr/share/locale/$lang/LC_MESSAGES; fi
  [[ -d $dir ]] || { rm -f "$tmp"; return 0; }
  for mo in $(ls "$dir"/*.mo 2>/dev/null | sort); do
    msgunfmt --no-wrap "$mo" 2>/dev/null | if [[ $lang == en ]]; then grep -a '^msgid "'; else grep -a '^msgstr "'; fi \
      | sed -E 's/^msg(id|str) "(.*)"$/\2/' >> "$tmp" || true
  done
  # Evenly spaced over all catalogs (so the texts come from many packages, not the first one).
  { grep -avE '%|\\|[{}<>_=|@#$]|https?:|^-' "$tmp" | awk -v n="$count" 'length($0) >= 40 && length($0) <= 200 && !seen[$0]++ {l[m++] = $0}
      END {if (m == 0) exit; k = (m < n ? m : n); for (i = 0; i < k; i++) print l[int(i * m / k)]}'; } || true
  rm -f "$tmp"
}

# --------------------------------------------------------------------------------- speech: espeak-ng
espeak_speech() {
  local dir=speech/espeak-ng
  built "$dir" && { record speech "$dir" espeak-ng "$(installed_version espeak-ng)" "$(licence_of /usr/share/doc/espeak-ng-data/copyright)" \
    "every espeak-ng language, variants cycled, speed 130-199 wpm, pitch 25-74; texts: gettext catalogs in /usr/share/locale"; return; }
  mkdir -p "$OUT/$dir"
  local tmp; tmp=$(mktemp -d)
  local variants; mapfile -t variants < <(espeak-ng --voices=variant | awk 'NR>1{print $5}' | sed 's#^!v/##' | sort)
  local i=0 lang locale text
  while read -r lang; do
    # espeak language code → gettext locale directory (pt-br → pt_BR, else the part before '-').
    locale=${lang%%-*}; [[ $lang == pt-br ]] && locale=pt_BR; [[ $lang == zh* || $lang == cmn* ]] && locale=zh_CN
    text=$(sentences "$locale" 10 | paste -sd ' ' -)
    [[ -z $text ]] && text=$(sentences en 40 | sed -n "$((1 + i % 30)),+9p" | paste -sd ' ' -)
    local v=${variants[$((i % ${#variants[@]}))]} speed=$((130 + (i * 37) % 70)) pitch=$((25 + (i * 53) % 50))
    if espeak-ng -v "$lang+$v" -s "$speed" -p "$pitch" -w "$tmp/a.wav" "$text" 2>/dev/null; then
      to_flac "$tmp/a.wav" "$OUT/$dir/$(printf '%03d' $i)-${lang}-${v}.flac"
    fi
    i=$((i + 1))
  done < <(espeak-ng --voices | awk 'NR>1{print $2}' | sort -u)
  rm -rf "$tmp"
  record speech "$dir" espeak-ng "$(installed_version espeak-ng)" "$(licence_of /usr/share/doc/espeak-ng-data/copyright)" \
    "every espeak-ng language, variants cycled, speed 130-199 wpm, pitch 25-74; texts: gettext catalogs in /usr/share/locale"
}

# --------------------------------------------------------------------------------- speech: festival
festival_speech() {
  local tmp; tmp=$(mktemp -d)
  local vdir lang voice pkg enc locale n
  for vdir in /usr/share/festival/voices/*/*/; do
    lang=$(basename "$(dirname "$vdir")"); voice=$(basename "$vdir")
    [[ -d $vdir/festvox && $voice != *.* ]] || continue  # shared files (suopuhe.common), not a voice
    pkg=$(dpkg -S "$vdir" 2>/dev/null | head -1 | cut -d: -f1 | cut -d, -f1) || pkg=unknown
    case $lang in
      english|us) locale=en; enc=ISO-8859-1;; italian) locale=it; enc=ISO-8859-1;; czech) locale=cs; enc=ISO-8859-2;;
      finnish) locale=fi; enc=ISO-8859-1;; catalan) locale=ca; enc=ISO-8859-1;; spanish) locale=es; enc=ISO-8859-1;;
      russian) locale=ru; enc=KOI8-R;; *) continue;;
    esac
    local dir=speech/festival-$voice
    n=0
    built "$dir" || { mkdir -p "$OUT/$dir"; while IFS= read -r line; do
      printf '%s\n' "$line" | iconv -f UTF-8 -t "$enc//TRANSLIT" > "$tmp/t.txt" 2>/dev/null || continue
      if timeout 120 text2wave -eval "(voice_$voice)" "$tmp/t.txt" -o "$tmp/a.wav" >/dev/null 2>&1; then
        to_flac "$tmp/a.wav" "$OUT/$dir/$(printf '%03d' $n).flac"
      fi
      n=$((n + 1))
    done < <(sentences "$locale" 40); }
    record speech "$dir" "$pkg" "$(installed_version "$pkg" 2>/dev/null || echo unknown)" \
      "$(licence_of "/usr/share/doc/$pkg/copyright")" "festival $(installed_version festival) voice $voice; texts: gettext catalogs"
  done
  rm -rf "$tmp"
}

# ------------------------------------------------------------------------------------ music: MIDI
midi_music() {
  local root; root=$(unpack openttd-openmsx)
  local dir=music/midi-openmsx sf=/usr/share/sounds/sf2/FluidR3_GM.sf2
  local tmp; tmp=$(mktemp -d)
  built "$dir" || { mkdir -p "$OUT/$dir"; while IFS= read -r -d '' f; do
    local name; name=$(basename "${f%.*}")
    fluidsynth -ni -q -g 0.5 -r "$RATE" -F "$tmp/a.wav" "$sf" "$f" >/dev/null 2>&1 && to_flac "$tmp/a.wav" "$OUT/$dir/$name.flac"
  done < <(find "$root" -iname '*.mid' -print0 | sort -z); }
  rm -rf "$tmp"
  record music "$dir" openttd-openmsx "$(deb_version openttd-openmsx)" \
    "$(licence_of "$root/usr/share/doc/openttd-openmsx/copyright")" \
    "MIDI rendered by fluidsynth $(installed_version fluidsynth) with fluid-soundfont-gm $(installed_version fluid-soundfont-gm) ($(licence_of /usr/share/doc/fluid-soundfont-gm/copyright))"
}

# ------------------------------------------------------------------------------------------- run
log "writing into $OUT"
espeak_speech
festival_speech
from_package speech speech/fillets-en fillets-ng-data "Fish Fillets NG dialogs, English actors" usr/share/games/fillets-ng/sound -path '*/en/*' -name '*.ogg'
from_package speech speech/fillets-cs fillets-ng-data-cs "Fish Fillets NG dialogs, Czech actors" usr/share/games/fillets-ng -name '*.ogg'
from_package speech speech/fillets-nl fillets-ng-data-nl "Fish Fillets NG dialogs, Dutch actors" usr/share/games/fillets-ng -name '*.ogg'
from_package speech speech/hedgewars-voices hedgewars-data "Hedgewars voice packs (short exclamations)" usr/share/games/hedgewars/Data/Sounds/voices -name '*.ogg'
midi_music
from_package music music/fillets fillets-ng-data "Fish Fillets NG soundtrack" usr/share/games/fillets-ng/music -name '*.ogg'
from_package music music/hedgewars hedgewars-data "Hedgewars soundtrack" usr/share/games/hedgewars/Data/Music -name '*.ogg'
from_package music music/planetblupi planetblupi-music-ogg "Planet Blupi soundtrack" usr/share -name '*.ogg'
from_package sounds sounds/freedesktop sound-theme-freedesktop "freedesktop.org sound theme" usr/share/sounds -name '*.oga'
from_package sounds sounds/yaru yaru-theme-sound "Yaru sound theme" usr/share/sounds -name '*.oga'
from_package sounds sounds/deepin deepin-sound-theme "Deepin sound theme" usr/share/sounds -type f \( -name '*.wav' -o -name '*.ogg' -o -name '*.oga' \)
from_package sounds sounds/hedgewars hedgewars-data "Hedgewars sound effects" usr/share/games/hedgewars/Data/Sounds -maxdepth 1 -name '*.ogg'
from_package sounds sounds/fillets fillets-ng-data "Fish Fillets NG sound effects" usr/share/games/fillets-ng/sound -path '*/share/*' -name '*.ogg'
from_package sounds sounds/bucklespring bucklespring-data "IBM Model-M keyboard recordings" usr/share -name '*.wav'

# Summary per category.
awk -F'\t' 'NR>1{f[$1]+=$6; s[$1]+=$7; F+=$6; S+=$7} END{for (c in f) printf "%-8s %5d files %8.1f min\n", c, f[c], s[c]/60; printf "%-8s %5d files %8.1f min\n", "total", F, S/60}' "$TSV" >&2
du -sh --exclude=.cache "$OUT" >&2
