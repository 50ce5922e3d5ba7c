package io.offgrid.perf.harness;

import java.util.List;
import java.util.Map;

/**
 * Writes maps, lists, strings, numbers, booleans and null as indented JSON; enough for the harness's results
 * without a JSON library on the class path.
 */
final class Json
{
    private Json()
    {
    }

    static String write(final Object value)
    {
        final StringBuilder sb = new StringBuilder();
        write(sb, value, 0);
        return sb.append('\n').toString();
    }

    private static void write(final StringBuilder sb, final Object v, final int indent)
    {
        if (null == v)
        {
            sb.append("null");
        }
        else if (v instanceof Map)
        {
            final Map<?, ?> m = (Map<?, ?>)v;
            if (m.isEmpty())
            {
                sb.append("{}");
                return;
            }
            sb.append("{\n");
            int i = 0;
            for (final Map.Entry<?, ?> e : m.entrySet())
            {
                pad(sb, indent + 1);
                string(sb, String.valueOf(e.getKey()));
                sb.append(": ");
                write(sb, e.getValue(), indent + 1);
                sb.append(++i < m.size() ? ",\n" : "\n");
            }
            pad(sb, indent);
            sb.append('}');
        }
        else if (v instanceof List)
        {
            final List<?> l = (List<?>)v;
            sb.append('[');
            for (int i = 0; i < l.size(); i++)
            {
                write(sb, l.get(i), indent + 1);
                if (i + 1 < l.size())
                {
                    sb.append(", ");
                }
            }
            sb.append(']');
        }
        else if (v instanceof Double || v instanceof Float)
        {
            final double d = ((Number)v).doubleValue();
            sb.append(Double.isFinite(d) ? (d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long)d) + ".0" :
                Double.toString(d)) : "null");
        }
        else if (v instanceof Number || v instanceof Boolean)
        {
            sb.append(v);
        }
        else
        {
            string(sb, v.toString());
        }
    }

    private static void pad(final StringBuilder sb, final int indent)
    {
        for (int i = 0; i < indent; i++)
        {
            sb.append("  ");
        }
    }

    private static void string(final StringBuilder sb, final String s)
    {
        sb.append('"');
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            switch (c)
            {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default ->
                {
                    if (c < 0x20)
                    {
                        sb.append(String.format("\\u%04x", (int)c));
                    }
                    else
                    {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
