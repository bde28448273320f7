package httpsys

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseNetsh parses `netsh http show servicestate view=requestq verbose=no`
// by structure, not by its (localized) labels; English and German output
// parse identically. Unknown layout -> ErrUnknownLayout; empty output ->
// ErrNoOutput (Wine's netsh prints nothing: that means "unknown", never "no
// queues"). A title and its rule of dashes with nothing after them is a
// machine without request queues: nil, nil.
//
// The structure it relies on (windows.md 3.1, and real outputs of Windows
// Server 2012 to 2022): lines nest by indentation. A request queue is a
// "label: name" line whose children hold, in order, a "label: version" line
// (N.N) followed by the state, a "label: N" line counting the attached
// processes, a section ("label:" alone) listing those N processes one per
// line, either as a bare PID or as "label: PID, label: image" (lines
// between them name the process's services and are skipped), optionally a
// "label: PID" controller line before or after that section, and then the
// registered URLs, directly in a section or inside URL groups. The name of
// an unnamed queue is a sentence ("Request queue is unnamed."): a value with
// a space that ends in a period.
//
// Known limits: the state words of a few languages are mapped to "active"
// and "inactive", others are kept as printed; netsh writes in the console's
// OEM code page, so non-ASCII image paths may arrive garbled.
func ParseNetsh(out string) ([]Queue, error) {
	out = strings.TrimPrefix(out, "\ufeff")
	if strings.TrimSpace(out) == "" {
		return nil, ErrNoOutput
	}
	roots := indentTree(out)
	body := roots
	for i, n := range roots {
		if isRule(n.text) {
			body = roots[i+1:]
			break
		}
	}
	var queues []Queue
	for _, n := range body {
		cands := []*tnode{n}
		if isSection(n.text) { // "Request queues:" around the queues
			cands = n.kids
		}
		for _, c := range cands {
			q, ok, err := netshQueue(c)
			if err != nil {
				return nil, err
			}
			if ok {
				queues = append(queues, q)
			}
		}
	}
	if len(queues) == 0 && len(body) > 0 {
		return nil, fmt.Errorf("netsh printed no request queue in a shape this parser knows (line %d: %q): %w",
			body[0].line, body[0].text, ErrUnknownLayout)
	}
	return queues, nil
}

// tnode is a line of indented text with the lines indented below it.
type tnode struct {
	line   int // 1-based line number
	indent int
	text   string // trimmed
	kids   []*tnode
}

func indentTree(s string) []*tnode {
	root := &tnode{indent: -1}
	stack := []*tnode{root}
	for i, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, " \t\r")
		t := strings.TrimLeft(l, " \t")
		if t == "" {
			continue
		}
		n := &tnode{line: i + 1, indent: len(l) - len(t), text: t}
		for stack[len(stack)-1].indent >= n.indent {
			stack = stack[:len(stack)-1]
		}
		p := stack[len(stack)-1]
		p.kids = append(p.kids, n)
		stack = append(stack, n)
	}
	return root.kids
}

// isRule reports whether t underlines a title ("-----").
func isRule(t string) bool {
	return len(t) >= 3 && strings.Trim(t, "-") == ""
}

// isSection reports whether t is a label alone ("Processes:"), the head of
// a list.
func isSection(t string) bool {
	return strings.HasSuffix(t, ":") && !strings.Contains(t, ": ") && !looksLikeURL(t)
}

// value returns what follows the label of a "label: value" line.
func value(t string) (string, bool) {
	_, v, ok := strings.Cut(t, ": ")
	return strings.TrimSpace(v), ok
}

func decimal(s string) (int, bool) {
	if s == "" || len(s) > 10 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return int(n), err == nil
}

// intValue returns N of a childless "label: N" line.
func intValue(n *tnode) (int, bool) {
	v, ok := value(n.text)
	if !ok || len(n.kids) > 0 {
		return 0, false
	}
	return decimal(v)
}

// processLine decodes one entry of a process list: "1234" or
// "label: 1234, label: C:\path\app.exe" ("<?>" for an unknown image).
func processLine(t string) (Process, bool) {
	if pid, ok := decimal(t); ok {
		return Process{PID: pid}, true
	}
	v, ok := value(t)
	if !ok {
		return Process{}, false
	}
	first, rest, ok := strings.Cut(v, ",")
	if !ok {
		return Process{}, false
	}
	pid, ok := decimal(strings.TrimSpace(first))
	if !ok {
		return Process{}, false
	}
	img, ok := value(strings.TrimSpace(rest))
	if !ok {
		// "label:<image>" without a space, or no label: keep what follows the colon.
		_, img, _ = strings.Cut(rest, ":")
		img = strings.TrimSpace(img)
	}
	if strings.HasPrefix(img, "<") && strings.HasSuffix(img, ">") {
		img = ""
	}
	return Process{PID: pid, Image: img}, true
}

// serviceName accepts a single service short name: no spaces, commas or
// path characters.
func serviceName(v string) (string, bool) {
	if v == "" || len(v) > 256 || strings.ContainsAny(v, " ,;\\/:<>\"") {
		return "", false
	}
	return v, true
}

func isVersion(v string) bool {
	a, b, ok := strings.Cut(v, ".")
	_, okA := decimal(a)
	_, okB := decimal(b)
	return ok && okA && okB
}

// looksLikeURL reports whether t is a registered URL ("HTTP://+:80/x/").
func looksLikeURL(t string) bool {
	scheme, rest, ok := strings.Cut(t, "://")
	if !ok || scheme == "" || rest == "" || strings.ContainsAny(t, " \t") {
		return false
	}
	for i, r := range scheme {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	return true
}

// netshQueue decodes n if it is a request queue; ok=false means n is
// something else (a server session, a title), an error means n looks like a
// queue whose parts disagree.
func netshQueue(n *tnode) (q Queue, ok bool, err error) {
	name, isKV := value(n.text)
	if !isKV || len(n.kids) == 0 {
		return q, false, nil
	}
	kids := n.kids
	// The process list is the first section.
	h := -1
	for i, k := range kids {
		if isSection(k.text) {
			h = i
			break
		}
	}
	if h < 0 {
		return q, false, nil
	}
	for _, k := range kids[h].kids {
		if p, ok := processLine(k.text); ok {
			q.Processes = append(q.Processes, p)
		} else if len(q.Processes) == 0 {
			return q, false, nil // not a process list ("Properties:" of a session)
		} else if v, ok := value(k.text); ok && len(k.kids) == 0 {
			// "Services: A, B" then "Tagged Service: A" follow the
			// process they describe; the last one that names a single
			// service wins.
			if svc, ok := serviceName(v); ok {
				q.Processes[len(q.Processes)-1].Service = svc
			}
		}
	}
	// The count of attached processes is the nearest "label: N" above it.
	c := -1
	for i := h - 1; i >= 0; i-- {
		if v, ok := intValue(kids[i]); ok && v == len(q.Processes) {
			c = i
			break
		}
	}
	if c < 0 {
		if len(q.Processes) == 0 {
			return q, false, nil
		}
		return q, false, fmt.Errorf("netsh line %d: queue lists %d processes that no line counts: %w",
			n.line, len(q.Processes), ErrUnknownLayout)
	}
	// The controller, when there is one, sits between the count and the
	// list, or right after the list.
	for i := c + 1; i < h && q.ControllerPID == 0; i++ {
		q.ControllerPID, _ = intValue(kids[i])
	}
	rest := kids[h+1:]
	if q.ControllerPID == 0 && len(rest) > 0 {
		q.ControllerPID, _ = intValue(rest[0])
	}
	// The state follows the version.
	for i, k := range kids[:c] {
		if v, ok := value(k.text); ok && isVersion(v) && i+1 < c {
			if s, ok := value(kids[i+1].text); ok {
				q.State = normalizeState(s)
			}
			break
		}
	}
	if strings.Contains(name, " ") && strings.HasSuffix(name, ".") {
		name = ""
	}
	q.Name = name
	if q.URLs, err = netshURLs(rest); err != nil {
		return q, false, err
	}
	return q, true, nil
}

// netshURLs collects the URLs listed anywhere under ns; a list preceded by
// a "label: N" line must hold N of them.
func netshURLs(ns []*tnode) ([]string, error) {
	var urls []string
	for i, n := range ns {
		if looksLikeURL(n.text) {
			urls = append(urls, n.text)
			continue
		}
		if len(n.kids) == 0 {
			continue
		}
		sub, err := netshURLs(n.kids)
		if err != nil {
			return nil, err
		}
		if isSection(n.text) && i > 0 && len(sub) > 0 {
			if want, ok := intValue(ns[i-1]); ok && want != len(sub) {
				return nil, fmt.Errorf("netsh line %d: %d URLs listed, %d announced: %w", n.line, len(sub), want, ErrUnknownLayout)
			}
		}
		urls = append(urls, sub...)
	}
	return urls, nil
}

// stateWords maps the queue states netsh prints in a few languages; others
// are kept as printed.
var stateWords = map[string]string{
	"active": "active", "aktiv": "active", "actif": "active", "activo": "active",
	"attivo": "active", "ativo": "active", "actief": "active", "aktywny": "active",
	"inactive": "inactive", "inaktiv": "inactive", "inactif": "inactive", "inactivo": "inactive",
	"inattivo": "inactive", "inativo": "inactive", "inactief": "inactive", "nieaktywny": "inactive",
}

func normalizeState(s string) string {
	if w, ok := stateWords[strings.ToLower(s)]; ok {
		return w
	}
	return s
}
