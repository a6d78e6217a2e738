// components/tarball: reproducible component tarballs — pack, read, defensive unpack.
export * from './tarball.js';
