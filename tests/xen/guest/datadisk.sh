# The IDE guest's data disk, shared by the guest's /init, the rig's dom0 and the plain-QEMU test
# (POSIX sh: busybox or coreutils). Sourced; defines functions only. At the end, the one helper
# the hosts share for the boot disk: the copy that boots the CD-change checks.
#
# Layout (16 MiB, in 64 KiB blocks):
#   block 0, first line   "XENDM-DATA-DISK v1": the guest writes to no disk without it
#   blocks 16..79         the guest's pattern, nonce chosen by the guest (it prints it)
#   blocks 128..191       the host's pattern, nonce "host0000", written before the guest boots:
#                         the guest reads it (the read path on its own, never written by it)
# A pattern: one 512-byte line per sector, "XENDM <sector> <nonce> " and then filler that
# depends on the sector, so a sector written to or read from the wrong place changes the sum.

DATADISK_LABEL="XENDM-DATA-DISK v1"
DATADISK_MIB=16
DATADISK_GUEST_BLOCK=16
DATADISK_HOST_BLOCK=128
DATADISK_HOST_NONCE=host0000
DATADISK_PATTERN_BLOCKS=64

# datadisk_pattern NONCE: the 4 MiB pattern on stdout.
datadisk_pattern() {
    awk -v nonce="$1" -v sectors=$((DATADISK_PATTERN_BLOCKS * 128)) 'BEGIN {
        fill = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        fill = fill fill fill fill fill fill fill fill fill
        for (s = 0; s < sectors; s++) {
            head = sprintf("XENDM %08d %s ", s, nonce)
            printf "%s%s\n", head, substr(fill, (s * 7) % 64 + 1, 511 - length(head))
        }
    }'
}

# datadisk_region_md5 FILE BLOCK: the MD5 of the pattern-sized region at 64 KiB block BLOCK.
datadisk_region_md5() {
    dd if="$1" bs=65536 skip="$2" count=$DATADISK_PATTERN_BLOCKS 2>/dev/null | md5sum | cut -c1-32
}

datadisk_pattern_md5() { datadisk_pattern "$1" | md5sum | cut -c1-32; }

# datadisk_make FILE: a fresh data disk with the label and the host's pattern.
datadisk_make() {
    dd if=/dev/zero of="$1" bs=65536 count=$((DATADISK_MIB * 16)) 2>/dev/null &&
        echo "$DATADISK_LABEL" | dd of="$1" conv=notrunc 2>/dev/null &&
        datadisk_pattern $DATADISK_HOST_NONCE |
        dd of="$1" bs=65536 seek=$DATADISK_HOST_BLOCK conv=notrunc 2>/dev/null
}

datadisk_has_label() { [ "$(head -c ${#DATADISK_LABEL} "$1" 2>/dev/null)" = "$DATADISK_LABEL" ]; }

# datadisk_check FILE NONCE: the guest's pattern with NONCE is on the disk (checked from the
# host: recomputed here, not taken from the guest's word).
datadisk_check() {
    [ "$(datadisk_region_md5 "$1" $DATADISK_GUEST_BLOCK)" = "$(datadisk_pattern_md5 "$2")" ]
}

# guest_boot_image_cdchange IMAGE: turns a copy of boot.img into the one that boots the
# CD-change checks (scenarios/cd-insert.sh): the "0" of "xrig.cdchange=0" in syslinux.cfg's
# APPEND line becomes "1". syslinux.cfg is one small file in one FAT cluster, so the line is
# contiguous in the image; `strings -t d` (busybox's and binutils') gives its byte offset. The
# string must occur exactly once; the byte is read back.
guest_boot_image_cdchange() {
    local flag=xrig.cdchange= offset
    offset=$(strings -a -t d "$1" | awk -v flag="${flag}0" '
        { i = index($0, flag) }
        i > 0 { match($0, /^ *[0-9]+ /); n++; at = $1 + i - 1 - RLENGTH + length(flag) - 1 }
        END { if (n == 1) print at }')
    [ -n "$offset" ] || return 1
    printf 1 | dd of="$1" bs=1 seek="$offset" conv=notrunc 2>/dev/null &&
        [ "$(dd if="$1" bs=1 skip=$((offset - ${#flag})) count=$((${#flag} + 1)) 2>/dev/null)" \
          = "${flag}1" ]
}
