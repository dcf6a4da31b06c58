/** The daemon's version string (also in node records and status). */
export const VERSION = '0.1.0';
