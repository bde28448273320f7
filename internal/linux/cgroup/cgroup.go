// Package cgroup reads the cgroup a process lives in and says what that
// path means: the systemd unit that runs the process and, when the path has
// one of the shapes container engines create, the container.
//
// Everything here is a pure function of bytes or strings; reading
// /proc/PID/cgroup is the caller's job. The path shapes are those written by
// systemd (system and user managers, v1 name=systemd and v2 hierarchies),
// runc/crun under the cgroupfs and systemd drivers, docker, podman, containerd,
// cri-o, the kubelet and LXC/LXD.
package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNoHierarchy is returned by ParseProcCgroup when the file names neither
// the v1 name=systemd hierarchy, nor the v2 hierarchy, nor any v1 controller.
var ErrNoHierarchy = errors.New("no usable cgroup hierarchy")

// ParseProcCgroup parses the contents of /proc/PID/cgroup (see cgroups(7))
// and returns the process's path in the hierarchy systemd manages:
//
//   - the v1 "name=systemd" line when there is one (legacy and hybrid
//     setups, where systemd tracks units in that named hierarchy);
//   - otherwise the v2 "0::" line (unified setups);
//   - otherwise, on v1-only hosts without systemd, the first controller
//     line, which is where runc and LXC put containers too.
//
// The " (deleted)" suffix the kernel appends for a v2 cgroup that was
// removed while a zombie still belongs to it is stripped. Paths are as the
// reader's cgroup namespace sees them, so they may start with "/..".
//
// A line that does not have the form ID:CONTROLLERS:PATH, with a numeric ID
// and an absolute path, makes the whole input an error.
func ParseProcCgroup(b []byte) (path string, err error) {
	var v2, v1 string
	var haveV2, haveV1 bool
	for n, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		id, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return "", fmt.Errorf("cgroup line %d %q: want ID:CONTROLLERS:PATH", n+1, line)
		}
		controllers, p, ok := bytes.Cut(rest, []byte(":"))
		if !ok {
			return "", fmt.Errorf("cgroup line %d %q: want ID:CONTROLLERS:PATH", n+1, line)
		}
		if _, err := strconv.ParseUint(string(id), 10, 32); err != nil {
			return "", fmt.Errorf("cgroup line %d %q: hierarchy ID: %w", n+1, line, err)
		}
		if len(p) == 0 || p[0] != '/' {
			return "", fmt.Errorf("cgroup line %d %q: path is not absolute", n+1, line)
		}
		cg := strings.TrimSuffix(string(p), " (deleted)")
		switch {
		case isSystemdHierarchy(controllers):
			return cg, nil
		case string(id) == "0" && len(controllers) == 0:
			v2, haveV2 = cg, true
		case !haveV1:
			v1, haveV1 = cg, true
		}
	}
	switch {
	case haveV2:
		return v2, nil
	case haveV1:
		return v1, nil
	}
	return "", ErrNoHierarchy
}

// isSystemdHierarchy reports whether a controller list names the v1
// hierarchy systemd keeps for tracking ("name=systemd").
func isSystemdHierarchy(controllers []byte) bool {
	for c := range bytes.SplitSeq(controllers, []byte(",")) {
		if string(c) == "name=systemd" {
			return true
		}
	}
	return false
}

// components splits a cgroup path into its non-empty elements.
func components(path string) []string {
	return strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
}
