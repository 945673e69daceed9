#!/usr/bin/env bash
# Remakes the two overlay fonts in this folder from the Debian font packages.
#   apt-get install fonts-noto-cjk fonts-noto-color-emoji python3-fonttools   (or: pip install fonttools)
#   bash assets/fonts/make-subsets.sh
# Both fonts are SIL OFL 1.1 (see OFL-*.txt). The output is deterministic for the same inputs.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
"$PY" -c 'import fontTools' 2>/dev/null || PY=/usr/bin/python3
CJK=${CJK_TTC:-/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc}
EMOJI=${EMOJI_TTF:-/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf}

# CJK: the Simplified Chinese face (index 2 of the collection), cut to Latin, Latin-1, general
# punctuation, arrows/shapes/misc symbols, CJK punctuation, kana, fullwidth forms, every
# character of GB2312 (its 6,763 hanzi and its symbol rows), the 5,401 common traditional hanzi
# of Big5 level 1 (viewers from Taiwan and Hong Kong) and the 2,350 common Hangul syllables of
# KS X 1001 with the compatibility jamo.
"$PY" - > cjk-unicodes.txt <<'PYEOF'
cps = set()
for lo, hi in [(0x20, 0x7E), (0xA0, 0xFF), (0x2000, 0x206F), (0x20A0, 0x20BF), (0x2100, 0x21FF),
               (0x2460, 0x24FF), (0x2500, 0x25FF), (0x2600, 0x266F), (0x3000, 0x30FF),
               (0x31F0, 0x31FF), (0xFF00, 0xFFEF)]:
    cps.update(range(lo, hi + 1))
def table(enc, rows, cells):
    for b1 in rows:
        for b2 in cells:
            try:
                cps.add(ord(bytes([b1, b2]).decode(enc)))
            except UnicodeDecodeError:
                pass
table("gb2312", range(0xA1, 0xF8), range(0xA1, 0xFF))
table("big5", range(0xA4, 0xC7), list(range(0x40, 0x7F)) + list(range(0xA1, 0xFF)))
table("euc_kr", range(0xB0, 0xC9), range(0xA1, 0xFF))
cps.update(range(0x3130, 0x3190))
print(",".join("U+%04X" % c for c in sorted(cps)))
PYEOF
"$PY" -m fontTools.subset "$CJK" --font-number=2 --unicodes-file=cjk-unicodes.txt \
  --layout-features='kern,liga,locl,vert,vrt2,palt,halt' --name-IDs='*' --name-languages='*' \
  --no-hinting --desubroutinize --output-file=NotoSansCJKsc-Subset.otf
rm cjk-unicodes.txt

# Emoji: Noto Color Emoji (CBDT colour bitmaps, which swash renders), cut to the emoji people
# type in chat: smileys, people, animals, food, travel, objects, symbols, hearts and stars,
# without skin-tone modifiers, flags or ZWJ family sequences (they cost most of the bytes).
"$PY" -m fontTools.subset "$EMOJI" \
  --unicodes='U+0023,U+002A,U+0030-0039,U+00A9,U+00AE,U+200D,U+203C,U+2049,U+2122,U+2139,U+2194-2199,U+21A9-21AA,U+231A-231B,U+2328,U+23CF,U+23E9-23F3,U+23F8-23FA,U+24C2,U+25AA-25AB,U+25B6,U+25C0,U+25FB-25FE,U+2600-27BF,U+2934-2935,U+2B05-2B07,U+2B1B-2B1C,U+2B50,U+2B55,U+3030,U+303D,U+3297,U+3299,U+FE0F,U+1F004,U+1F0CF,U+1F170-1F251,U+1F300-1F3FA,U+1F400-1F64F,U+1F680-1F6FF,U+1F7E0-1F7EB,U+1F90C-1F9FF,U+1FA70-1FAFF' \
  --layout-features='' --name-IDs='*' --output-file=NotoColorEmoji-Subset.ttf
ls -l NotoSansCJKsc-Subset.otf NotoColorEmoji-Subset.ttf
