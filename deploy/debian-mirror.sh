# shellcheck shell=bash
# debian_mirror SUITE: the first http(s) mirror apt on this machine is configured with for SUITE
# (one-line or deb822 format); empty when there is none. Sourced by the scripts beside it.
debian_mirror() {
    local suite="$1" file files=()
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f "$file" ]] && files+=("$file")
    done
    [[ ${#files[@]} -gt 0 ]] || return 0
    awk -v suite="$suite" '
        /^[[:space:]]*deb[[:space:]]/ {
            i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
            if ($(i + 1) == suite) { print $i; exit }
        }
        /^Types:/ { binary = ($0 ~ /[[:space:]]deb([[:space:]]|$)/) }
        /^URIs:/ { uri = $2 }
        /^Suites:/ { for (j = 2; j <= NF; j++) if ($j == suite && binary && uri != "") { print uri; exit } }
        /^[[:space:]]*$/ { uri = ""; binary = 0 }
    ' "${files[@]}" | head -n 1
}
