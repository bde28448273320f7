package cli

import (
	"github.com/spf13/cobra"
)

func newCompletionCmd(io *IO) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a completion script for your shell. For example:

  whobinds completion bash > /etc/bash_completion.d/whobinds
  whobinds completion zsh > "${fpath[1]}/_whobinds"
  whobinds completion fish > ~/.config/fish/completions/whobinds.fish`,
		Args:      usageArgs(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(c *cobra.Command, args []string) error {
			root := c.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(io.Out, true)
			case "zsh":
				return root.GenZshCompletion(io.Out)
			case "fish":
				return root.GenFishCompletion(io.Out, true)
			default:
				return root.GenPowerShellCompletionWithDesc(io.Out)
			}
		},
	}
}
