namespace Gateway.Cli.Infrastructure;

/// <summary>
/// A deliberately small command-line reader: <c>--name value</c>, <c>--name=value</c>, flags and positionals.
/// Every mistake is a <see cref="UsageException"/> naming the option, so every verb reports them alike (exit 2).
/// </summary>
internal sealed class ArgReader
{
    private readonly List<string> _positionals = [];
    private readonly Dictionary<string, List<string>> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _consumed = new(StringComparer.Ordinal);

    public ArgReader(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg == "--")
            {
                _positionals.AddRange(args.Skip(i + 1));
                break;
            }
            if (arg.StartsWith("--", StringComparison.Ordinal) || (arg.Length == 2 && arg[0] == '-' && char.IsAsciiLetter(arg[1])))
            {
                string name = arg;
                string? value = null;
                int eq = arg.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    name = arg[..eq];
                    value = arg[(eq + 1)..];
                }
                else if (i + 1 < args.Count && !IsOptionName(args[i + 1]))
                {
                    value = args[++i];
                }
                if (!_options.TryGetValue(name, out var values))
                {
                    _options[name] = values = [];
                }
                values.Add(value ?? string.Empty);
                continue;
            }
            _positionals.Add(arg);
        }
    }

    private static bool IsOptionName(string arg) =>
        arg.StartsWith("--", StringComparison.Ordinal) || (arg.Length == 2 && arg[0] == '-' && char.IsAsciiLetter(arg[1]));

    public IReadOnlyList<string> Positionals => _positionals;

    public bool WantsHelp => _options.ContainsKey("--help") || _options.ContainsKey("-h");

    public bool Flag(string name)
    {
        _consumed.Add(name);
        if (!_options.TryGetValue(name, out var values))
        {
            return false;
        }
        if (values.Any(v => v.Length != 0))
        {
            // A flag that swallowed the next word: that word was meant as a positional.
            foreach (var v in values.Where(v => v.Length != 0))
            {
                _positionals.Add(v);
            }
        }
        return true;
    }

    public string? Optional(params string[] names)
    {
        string? found = null;
        foreach (var name in names)
        {
            _consumed.Add(name);
            if (_options.TryGetValue(name, out var values))
            {
                if (values.Count > 1 || found != null)
                {
                    throw new UsageException($"{name} is given more than once.");
                }
                found = values[0].Length != 0 ? values[0] : throw new UsageException($"{name} needs a value.");
            }
        }
        return found;
    }

    public string Required(params string[] names) =>
        Optional(names) ?? throw new UsageException($"{names[0]} is required.");

    public IReadOnlyList<string> Many(string name)
    {
        _consumed.Add(name);
        if (!_options.TryGetValue(name, out var values))
        {
            return [];
        }
        if (values.Any(v => v.Length == 0))
        {
            throw new UsageException($"{name} needs a value.");
        }
        return values;
    }

    public int Int(string name, int defaultValue, int min = int.MinValue, int max = int.MaxValue)
    {
        string? text = Optional(name);
        if (text == null)
        {
            return defaultValue;
        }
        if (!int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            throw new UsageException($"{name} must be a whole number from {min} to {max}, not '{text}'.");
        }
        return value;
    }

    public double Double(string name, double defaultValue, double min = double.MinValue, double max = double.MaxValue)
    {
        string? text = Optional(name);
        if (text == null)
        {
            return defaultValue;
        }
        if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value) || value < min || value > max)
        {
            throw new UsageException($"{name} must be a number from {min} to {max}, not '{text}'.");
        }
        return value;
    }

    /// <summary>Call after reading every option: anything not asked for is a typo the user should hear about.</summary>
    public void EnsureNoUnknownOptions()
    {
        foreach (var name in _options.Keys)
        {
            if (!_consumed.Contains(name) && name is not ("--help" or "-h"))
            {
                throw new UsageException($"unknown option {name}.");
            }
        }
    }
}
