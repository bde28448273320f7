// Package wine tells whether a Windows build runs under Wine, whose
// emulation of some Windows APIs is missing, stubbed or aborts the process
// when called (I_QueryTagInformation, HttpQuery*Property). Callers skip
// those calls under Wine and say what they could not see.
//
// Touch, for tests, makes Wine 8 attribute a listening socket to the
// process that opened it (see ../shared/design/wine.md, section 3).
package wine
