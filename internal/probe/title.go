package probe

// This file finds the title of an HTML page without an HTML parser: the
// text of the first <title> element, entities decoded, whitespace folded.

import (
	"bytes"
	"html"
	"strings"
)

// titleMax is how many runes of a title a Result keeps.
const titleMax = 200

// extractTitle returns the cleaned text of the first <title> element in
// body, or "" when there is none. An element cut off by the end of body
// yields the text up to there.
func extractTitle(body []byte) string {
	open := indexTag(body, "<title")
	if open < 0 {
		return ""
	}
	rest := body[open+len("<title"):]
	gt := bytes.IndexByte(rest, '>')
	if gt < 0 {
		return ""
	}
	rest = rest[gt+1:]
	if end := indexTag(rest, "</title"); end >= 0 {
		rest = rest[:end]
	}
	// Decode at most a few times the runes kept: entities are short.
	if len(rest) > 8*titleMax {
		rest = rest[:8*titleMax]
	}
	text := strings.Join(strings.Fields(html.UnescapeString(string(rest))), " ")
	if r := []rune(text); len(r) > titleMax {
		text = strings.TrimRight(string(r[:titleMax]), " ") + "…"
	}
	return cleanString(text, 0)
}

// indexTag finds the tag name tag ("<title", "</title") in b, ignoring
// case, where the name ends the tag's name: followed by '>', '/' or
// whitespace, so that "<titles>" does not match "<title".
func indexTag(b []byte, tag string) int {
	off := 0
	for {
		i := indexFold(b[off:], tag)
		if i < 0 {
			return -1
		}
		i += off
		end := i + len(tag)
		if end >= len(b) {
			return -1
		}
		switch b[end] {
		case '>', '/', ' ', '\t', '\n', '\r', '\f':
			return i
		}
		off = end
	}
}

// indexFold is bytes.Index ignoring ASCII case; tag is lower case.
func indexFold(b []byte, tag string) int {
	for i := 0; i+len(tag) <= len(b); i++ {
		if b[i] != tag[0] {
			continue
		}
		j := 1
		for ; j < len(tag); j++ {
			c := b[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != tag[j] {
				break
			}
		}
		if j == len(tag) {
			return i
		}
	}
	return -1
}
