// Command notecheck checks a checkpoint note written by `provenance checkpoint --format note`
// with Go's own implementations, not ours: golang.org/x/mod/sumdb/note verifies the signed
// note against a verifier key, and golang.org/x/mod/sumdb/tlog recomputes the RFC 6962 root
// from the leaf data and checks an inclusion proof. Used by test_prov_checkpoint_note.py.
//
//	notecheck VKEY NOTE [LEAVES [PROOF]]
//	notecheck -sign SKEY TEXT
//
// LEAVES holds one hex leaf (a ledger entry digest) per line; PROOF is the JSON written by
// `provenance prove`. Prints a JSON summary and exits 0 when everything holds, 1 when
// something is rejected (the reason on stdout after "REJECTED:"), 2 on bad usage.
// With -sign, Go signs the file TEXT with the signer key SKEY and prints the signed note,
// so the test can check the other direction: Go's notes read by our verifier.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type proofFile struct {
	EntryHash string   `json:"entry_hash"`
	Index     int64    `json:"index"`
	Size      int64    `json:"size"`
	Path      []string `json:"path"`
}

func reject(format string, args ...interface{}) {
	fmt.Printf("REJECTED: "+format+"\n", args...)
	os.Exit(1)
}

func usage(err error) {
	fmt.Fprintln(os.Stderr, "notecheck:", err)
	os.Exit(2)
}

func hexHash(s string) tlog.Hash {
	var h tlog.Hash
	raw, err := hex.DecodeString(strings.TrimPrefix(s, "sha256:"))
	if err != nil || len(raw) != len(h) {
		usage(fmt.Errorf("not a 32-byte hex hash: %q", s))
	}
	copy(h[:], raw)
	return h
}

func readLeaves(path string) []tlog.Hash {
	f, err := os.Open(path)
	if err != nil {
		usage(err)
	}
	defer f.Close()
	var leaves []tlog.Hash
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		leaves = append(leaves, hexHash(scanner.Text()))
	}
	return leaves
}

// storedTree keeps every hash tlog.StoredHashes produces, indexed as tlog stores them.
type storedTree []tlog.Hash

func (s storedTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if idx >= int64(len(s)) {
			return nil, fmt.Errorf("hash %d not stored", idx)
		}
		out[i] = s[idx]
	}
	return out, nil
}

func sign(skey, textPath string) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		usage(err)
	}
	text, err := os.ReadFile(textPath)
	if err != nil {
		usage(err)
	}
	msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
	if err != nil {
		usage(err)
	}
	os.Stdout.Write(msg)
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "-sign" {
		sign(os.Args[2], os.Args[3])
		return
	}
	if len(os.Args) < 3 || len(os.Args) > 5 {
		usage(fmt.Errorf("usage: notecheck VKEY NOTE [LEAVES [PROOF]]"))
	}
	verifier, err := note.NewVerifier(os.Args[1])
	if err != nil {
		usage(err)
	}
	msg, err := os.ReadFile(os.Args[2])
	if err != nil {
		usage(err)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		reject("note.Open: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		reject("checkpoint text has %d lines, needs origin, size and root", len(lines))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || strconv.FormatInt(size, 10) != lines[1] {
		reject("tree size %q is not canonical decimal", lines[1])
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	var root tlog.Hash
	if err != nil || len(rootBytes) != len(root) {
		reject("root %q is not base64 of 32 bytes", lines[2])
	}
	copy(root[:], rootBytes)
	summary := map[string]interface{}{"origin": lines[0], "size": size, "root": hex.EncodeToString(root[:]), "signer": n.Sigs[0].Name}

	if len(os.Args) >= 4 {
		leaves := readLeaves(os.Args[3])
		if int64(len(leaves)) < size {
			reject("%d leaves given, the checkpoint covers %d", len(leaves), size)
		}
		var stored storedTree
		for i := int64(0); i < size; i++ {
			hashes, err := tlog.StoredHashes(i, leaves[i][:], stored)
			if err != nil {
				usage(err)
			}
			stored = append(stored, hashes...)
		}
		computed, err := tlog.TreeHash(size, stored)
		if err != nil {
			usage(err)
		}
		if computed != root {
			reject("tlog.TreeHash of the leaves is %x, the note signs %x", computed[:], root[:])
		}
		summary["leaves_match_root"] = true
	}
	if len(os.Args) == 5 {
		raw, err := os.ReadFile(os.Args[4])
		if err != nil {
			usage(err)
		}
		var p proofFile
		if err := json.Unmarshal(raw, &p); err != nil {
			usage(err)
		}
		path := make(tlog.RecordProof, len(p.Path))
		for i, h := range p.Path {
			path[i] = hexHash(h)
		}
		leaf := hexHash(p.EntryHash)
		if err := tlog.CheckRecord(path, size, root, p.Index, tlog.RecordHash(leaf[:])); err != nil {
			reject("tlog.CheckRecord: %v", err)
		}
		summary["proof_verified"] = true
	}
	out, _ := json.Marshal(summary)
	fmt.Println(string(out))
}
