package cgroup

import "strings"

// Unit is the systemd unit a cgroup belongs to.
type Unit struct {
	// Name is the unit's name as systemd wrote it into the path, escapes
	// such as \x2d included: "nginx.service", "session-3.scope",
	// "getty@tty1.service", "user@1000.service".
	Name string
	// Manager is the systemd instance that runs the unit: "system", or
	// "user@UID" for units of a user's own manager (the units below
	// user@UID.service). user@UID.service itself is a system unit.
	Manager string
	// Slice is the innermost slice above the unit ("system.slice",
	// "user-1000.slice", "app.slice"), empty for units at the root such as
	// init.scope.
	Slice string
}

// unitSuffixes are the unit types that own cgroups (slices only group them).
var unitSuffixes = [...]string{".service", ".scope", ".socket", ".mount", ".swap"}

// UnitOf returns the systemd unit that the cgroup at path belongs to. The
// unit is the outermost service, scope, socket, mount or swap unit on the
// path, so processes in subgroups a service created under its delegated
// cgroup ("/system.slice/foo.service/payload") belong to foo.service. Below
// user@UID.service the user's manager takes over: its units are reported
// with Manager "user@UID", and processes of the manager itself
// (".../user@1000.service/init.scope") as user@1000.service.
//
// Paths that leave systemd's tree before reaching a unit ("/",
// "/user.slice", "/docker/ID", "/lxc.payload.c1") return false.
func UnitOf(path string) (Unit, bool) {
	manager := "system"
	slice := ""
	var userManager Unit // the user@UID.service we are below, if any
	for _, c := range components(path) {
		if strings.HasSuffix(c, ".slice") && len(c) > len(".slice") {
			slice = c
			continue
		}
		if !isUnitName(c) {
			break
		}
		if uid, ok := userManagerUID(c); ok && userManager.Name == "" && manager == "system" {
			userManager = Unit{Name: c, Manager: manager, Slice: slice}
			manager = "user@" + uid
			slice = ""
			continue
		}
		if userManager.Name != "" && c == "init.scope" && slice == "" {
			// The user manager's own process.
			return userManager, true
		}
		return Unit{Name: c, Manager: manager, Slice: slice}, true
	}
	if userManager.Name != "" {
		// In user@UID.service itself (cgroup v1 puts the manager there) or
		// in a subgroup it created outside any of its units.
		return userManager, true
	}
	return Unit{}, false
}

// isUnitName reports whether c looks like the name of a unit that owns a
// cgroup: a non-empty name followed by one of the unit suffixes.
func isUnitName(c string) bool {
	for _, s := range unitSuffixes {
		if len(c) > len(s) && strings.HasSuffix(c, s) {
			return true
		}
	}
	return false
}

// userManagerUID returns the UID of a "user@UID.service" unit name.
func userManagerUID(c string) (string, bool) {
	uid, ok := strings.CutPrefix(c, "user@")
	if !ok {
		return "", false
	}
	uid, ok = strings.CutSuffix(uid, ".service")
	if !ok || uid == "" {
		return "", false
	}
	for i := 0; i < len(uid); i++ {
		if uid[i] < '0' || uid[i] > '9' {
			return "", false
		}
	}
	return uid, true
}
