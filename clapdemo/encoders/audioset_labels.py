"""The 527 AudioSet classes in the index order of EfficientAT's logits.

Source: `metadata/class_labels_indices.csv` as shipped by
github.com/fschmid56/EfficientAT (read by its `helpers/utils.py`), which is
AudioSet's own `class_labels_indices.csv` (the same file PANNs and AST ship).
The class names come from the AudioSet ontology, Google, CC BY 4.0
(https://research.google.com/audioset/ontology/index.html).

Kept as a Python tuple rather than a data file so it needs no package-data
setup and works wherever the package is importable.
"""

from __future__ import annotations

# (mid, display_name), index i = logit i.
AUDIOSET_CLASSES: tuple[tuple[str, str], ...] = (
    ('/m/09x0r', 'Speech'),  # 0
    ('/m/05zppz', 'Male speech, man speaking'),  # 1
    ('/m/02zsn', 'Female speech, woman speaking'),  # 2
    ('/m/0ytgt', 'Child speech, kid speaking'),  # 3
    ('/m/01h8n0', 'Conversation'),  # 4
    ('/m/02qldy', 'Narration, monologue'),  # 5
    ('/m/0261r1', 'Babbling'),  # 6
    ('/m/0brhx', 'Speech synthesizer'),  # 7
    ('/m/07p6fty', 'Shout'),  # 8
    ('/m/07q4ntr', 'Bellow'),  # 9
    ('/m/07rwj3x', 'Whoop'),  # 10
    ('/m/07sr1lc', 'Yell'),  # 11
    ('/m/04gy_2', 'Battle cry'),  # 12
    ('/t/dd00135', 'Children shouting'),  # 13
    ('/m/03qc9zr', 'Screaming'),  # 14
    ('/m/02rtxlg', 'Whispering'),  # 15
    ('/m/01j3sz', 'Laughter'),  # 16
    ('/t/dd00001', 'Baby laughter'),  # 17
    ('/m/07r660_', 'Giggle'),  # 18
    ('/m/07s04w4', 'Snicker'),  # 19
    ('/m/07sq110', 'Belly laugh'),  # 20
    ('/m/07rgt08', 'Chuckle, chortle'),  # 21
    ('/m/0463cq4', 'Crying, sobbing'),  # 22
    ('/t/dd00002', 'Baby cry, infant cry'),  # 23
    ('/m/07qz6j3', 'Whimper'),  # 24
    ('/m/07qw_06', 'Wail, moan'),  # 25
    ('/m/07plz5l', 'Sigh'),  # 26
    ('/m/015lz1', 'Singing'),  # 27
    ('/m/0l14jd', 'Choir'),  # 28
    ('/m/01swy6', 'Yodeling'),  # 29
    ('/m/02bk07', 'Chant'),  # 30
    ('/m/01c194', 'Mantra'),  # 31
    ('/t/dd00003', 'Male singing'),  # 32
    ('/t/dd00004', 'Female singing'),  # 33
    ('/t/dd00005', 'Child singing'),  # 34
    ('/t/dd00006', 'Synthetic singing'),  # 35
    ('/m/06bxc', 'Rapping'),  # 36
    ('/m/02fxyj', 'Humming'),  # 37
    ('/m/07s2xch', 'Groan'),  # 38
    ('/m/07r4k75', 'Grunt'),  # 39
    ('/m/01w250', 'Whistling'),  # 40
    ('/m/0lyf6', 'Breathing'),  # 41
    ('/m/07mzm6', 'Wheeze'),  # 42
    ('/m/01d3sd', 'Snoring'),  # 43
    ('/m/07s0dtb', 'Gasp'),  # 44
    ('/m/07pyy8b', 'Pant'),  # 45
    ('/m/07q0yl5', 'Snort'),  # 46
    ('/m/01b_21', 'Cough'),  # 47
    ('/m/0dl9sf8', 'Throat clearing'),  # 48
    ('/m/01hsr_', 'Sneeze'),  # 49
    ('/m/07ppn3j', 'Sniff'),  # 50
    ('/m/06h7j', 'Run'),  # 51
    ('/m/07qv_x_', 'Shuffle'),  # 52
    ('/m/07pbtc8', 'Walk, footsteps'),  # 53
    ('/m/03cczk', 'Chewing, mastication'),  # 54
    ('/m/07pdhp0', 'Biting'),  # 55
    ('/m/0939n_', 'Gargling'),  # 56
    ('/m/01g90h', 'Stomach rumble'),  # 57
    ('/m/03q5_w', 'Burping, eructation'),  # 58
    ('/m/02p3nc', 'Hiccup'),  # 59
    ('/m/02_nn', 'Fart'),  # 60
    ('/m/0k65p', 'Hands'),  # 61
    ('/m/025_jnm', 'Finger snapping'),  # 62
    ('/m/0l15bq', 'Clapping'),  # 63
    ('/m/01jg02', 'Heart sounds, heartbeat'),  # 64
    ('/m/01jg1z', 'Heart murmur'),  # 65
    ('/m/053hz1', 'Cheering'),  # 66
    ('/m/028ght', 'Applause'),  # 67
    ('/m/07rkbfh', 'Chatter'),  # 68
    ('/m/03qtwd', 'Crowd'),  # 69
    ('/m/07qfr4h', 'Hubbub, speech noise, speech babble'),  # 70
    ('/t/dd00013', 'Children playing'),  # 71
    ('/m/0jbk', 'Animal'),  # 72
    ('/m/068hy', 'Domestic animals, pets'),  # 73
    ('/m/0bt9lr', 'Dog'),  # 74
    ('/m/05tny_', 'Bark'),  # 75
    ('/m/07r_k2n', 'Yip'),  # 76
    ('/m/07qf0zm', 'Howl'),  # 77
    ('/m/07rc7d9', 'Bow-wow'),  # 78
    ('/m/0ghcn6', 'Growling'),  # 79
    ('/t/dd00136', 'Whimper (dog)'),  # 80
    ('/m/01yrx', 'Cat'),  # 81
    ('/m/02yds9', 'Purr'),  # 82
    ('/m/07qrkrw', 'Meow'),  # 83
    ('/m/07rjwbb', 'Hiss'),  # 84
    ('/m/07r81j2', 'Caterwaul'),  # 85
    ('/m/0ch8v', 'Livestock, farm animals, working animals'),  # 86
    ('/m/03k3r', 'Horse'),  # 87
    ('/m/07rv9rh', 'Clip-clop'),  # 88
    ('/m/07q5rw0', 'Neigh, whinny'),  # 89
    ('/m/01xq0k1', 'Cattle, bovinae'),  # 90
    ('/m/07rpkh9', 'Moo'),  # 91
    ('/m/0239kh', 'Cowbell'),  # 92
    ('/m/068zj', 'Pig'),  # 93
    ('/t/dd00018', 'Oink'),  # 94
    ('/m/03fwl', 'Goat'),  # 95
    ('/m/07q0h5t', 'Bleat'),  # 96
    ('/m/07bgp', 'Sheep'),  # 97
    ('/m/025rv6n', 'Fowl'),  # 98
    ('/m/09b5t', 'Chicken, rooster'),  # 99
    ('/m/07st89h', 'Cluck'),  # 100
    ('/m/07qn5dc', 'Crowing, cock-a-doodle-doo'),  # 101
    ('/m/01rd7k', 'Turkey'),  # 102
    ('/m/07svc2k', 'Gobble'),  # 103
    ('/m/09ddx', 'Duck'),  # 104
    ('/m/07qdb04', 'Quack'),  # 105
    ('/m/0dbvp', 'Goose'),  # 106
    ('/m/07qwf61', 'Honk'),  # 107
    ('/m/01280g', 'Wild animals'),  # 108
    ('/m/0cdnk', 'Roaring cats (lions, tigers)'),  # 109
    ('/m/04cvmfc', 'Roar'),  # 110
    ('/m/015p6', 'Bird'),  # 111
    ('/m/020bb7', 'Bird vocalization, bird call, bird song'),  # 112
    ('/m/07pggtn', 'Chirp, tweet'),  # 113
    ('/m/07sx8x_', 'Squawk'),  # 114
    ('/m/0h0rv', 'Pigeon, dove'),  # 115
    ('/m/07r_25d', 'Coo'),  # 116
    ('/m/04s8yn', 'Crow'),  # 117
    ('/m/07r5c2p', 'Caw'),  # 118
    ('/m/09d5_', 'Owl'),  # 119
    ('/m/07r_80w', 'Hoot'),  # 120
    ('/m/05_wcq', 'Bird flight, flapping wings'),  # 121
    ('/m/01z5f', 'Canidae, dogs, wolves'),  # 122
    ('/m/06hps', 'Rodents, rats, mice'),  # 123
    ('/m/04rmv', 'Mouse'),  # 124
    ('/m/07r4gkf', 'Patter'),  # 125
    ('/m/03vt0', 'Insect'),  # 126
    ('/m/09xqv', 'Cricket'),  # 127
    ('/m/09f96', 'Mosquito'),  # 128
    ('/m/0h2mp', 'Fly, housefly'),  # 129
    ('/m/07pjwq1', 'Buzz'),  # 130
    ('/m/01h3n', 'Bee, wasp, etc.'),  # 131
    ('/m/09ld4', 'Frog'),  # 132
    ('/m/07st88b', 'Croak'),  # 133
    ('/m/078jl', 'Snake'),  # 134
    ('/m/07qn4z3', 'Rattle'),  # 135
    ('/m/032n05', 'Whale vocalization'),  # 136
    ('/m/04rlf', 'Music'),  # 137
    ('/m/04szw', 'Musical instrument'),  # 138
    ('/m/0fx80y', 'Plucked string instrument'),  # 139
    ('/m/0342h', 'Guitar'),  # 140
    ('/m/02sgy', 'Electric guitar'),  # 141
    ('/m/018vs', 'Bass guitar'),  # 142
    ('/m/042v_gx', 'Acoustic guitar'),  # 143
    ('/m/06w87', 'Steel guitar, slide guitar'),  # 144
    ('/m/01glhc', 'Tapping (guitar technique)'),  # 145
    ('/m/07s0s5r', 'Strum'),  # 146
    ('/m/018j2', 'Banjo'),  # 147
    ('/m/0jtg0', 'Sitar'),  # 148
    ('/m/04rzd', 'Mandolin'),  # 149
    ('/m/01bns_', 'Zither'),  # 150
    ('/m/07xzm', 'Ukulele'),  # 151
    ('/m/05148p4', 'Keyboard (musical)'),  # 152
    ('/m/05r5c', 'Piano'),  # 153
    ('/m/01s0ps', 'Electric piano'),  # 154
    ('/m/013y1f', 'Organ'),  # 155
    ('/m/03xq_f', 'Electronic organ'),  # 156
    ('/m/03gvt', 'Hammond organ'),  # 157
    ('/m/0l14qv', 'Synthesizer'),  # 158
    ('/m/01v1d8', 'Sampler'),  # 159
    ('/m/03q5t', 'Harpsichord'),  # 160
    ('/m/0l14md', 'Percussion'),  # 161
    ('/m/02hnl', 'Drum kit'),  # 162
    ('/m/0cfdd', 'Drum machine'),  # 163
    ('/m/026t6', 'Drum'),  # 164
    ('/m/06rvn', 'Snare drum'),  # 165
    ('/m/03t3fj', 'Rimshot'),  # 166
    ('/m/02k_mr', 'Drum roll'),  # 167
    ('/m/0bm02', 'Bass drum'),  # 168
    ('/m/011k_j', 'Timpani'),  # 169
    ('/m/01p970', 'Tabla'),  # 170
    ('/m/01qbl', 'Cymbal'),  # 171
    ('/m/03qtq', 'Hi-hat'),  # 172
    ('/m/01sm1g', 'Wood block'),  # 173
    ('/m/07brj', 'Tambourine'),  # 174
    ('/m/05r5wn', 'Rattle (instrument)'),  # 175
    ('/m/0xzly', 'Maraca'),  # 176
    ('/m/0mbct', 'Gong'),  # 177
    ('/m/016622', 'Tubular bells'),  # 178
    ('/m/0j45pbj', 'Mallet percussion'),  # 179
    ('/m/0dwsp', 'Marimba, xylophone'),  # 180
    ('/m/0dwtp', 'Glockenspiel'),  # 181
    ('/m/0dwt5', 'Vibraphone'),  # 182
    ('/m/0l156b', 'Steelpan'),  # 183
    ('/m/05pd6', 'Orchestra'),  # 184
    ('/m/01kcd', 'Brass instrument'),  # 185
    ('/m/0319l', 'French horn'),  # 186
    ('/m/07gql', 'Trumpet'),  # 187
    ('/m/07c6l', 'Trombone'),  # 188
    ('/m/0l14_3', 'Bowed string instrument'),  # 189
    ('/m/02qmj0d', 'String section'),  # 190
    ('/m/07y_7', 'Violin, fiddle'),  # 191
    ('/m/0d8_n', 'Pizzicato'),  # 192
    ('/m/01xqw', 'Cello'),  # 193
    ('/m/02fsn', 'Double bass'),  # 194
    ('/m/085jw', 'Wind instrument, woodwind instrument'),  # 195
    ('/m/0l14j_', 'Flute'),  # 196
    ('/m/06ncr', 'Saxophone'),  # 197
    ('/m/01wy6', 'Clarinet'),  # 198
    ('/m/03m5k', 'Harp'),  # 199
    ('/m/0395lw', 'Bell'),  # 200
    ('/m/03w41f', 'Church bell'),  # 201
    ('/m/027m70_', 'Jingle bell'),  # 202
    ('/m/0gy1t2s', 'Bicycle bell'),  # 203
    ('/m/07n_g', 'Tuning fork'),  # 204
    ('/m/0f8s22', 'Chime'),  # 205
    ('/m/026fgl', 'Wind chime'),  # 206
    ('/m/0150b9', 'Change ringing (campanology)'),  # 207
    ('/m/03qjg', 'Harmonica'),  # 208
    ('/m/0mkg', 'Accordion'),  # 209
    ('/m/0192l', 'Bagpipes'),  # 210
    ('/m/02bxd', 'Didgeridoo'),  # 211
    ('/m/0l14l2', 'Shofar'),  # 212
    ('/m/07kc_', 'Theremin'),  # 213
    ('/m/0l14t7', 'Singing bowl'),  # 214
    ('/m/01hgjl', 'Scratching (performance technique)'),  # 215
    ('/m/064t9', 'Pop music'),  # 216
    ('/m/0glt670', 'Hip hop music'),  # 217
    ('/m/02cz_7', 'Beatboxing'),  # 218
    ('/m/06by7', 'Rock music'),  # 219
    ('/m/03lty', 'Heavy metal'),  # 220
    ('/m/05r6t', 'Punk rock'),  # 221
    ('/m/0dls3', 'Grunge'),  # 222
    ('/m/0dl5d', 'Progressive rock'),  # 223
    ('/m/07sbbz2', 'Rock and roll'),  # 224
    ('/m/05w3f', 'Psychedelic rock'),  # 225
    ('/m/06j6l', 'Rhythm and blues'),  # 226
    ('/m/0gywn', 'Soul music'),  # 227
    ('/m/06cqb', 'Reggae'),  # 228
    ('/m/01lyv', 'Country'),  # 229
    ('/m/015y_n', 'Swing music'),  # 230
    ('/m/0gg8l', 'Bluegrass'),  # 231
    ('/m/02x8m', 'Funk'),  # 232
    ('/m/02w4v', 'Folk music'),  # 233
    ('/m/06j64v', 'Middle Eastern music'),  # 234
    ('/m/03_d0', 'Jazz'),  # 235
    ('/m/026z9', 'Disco'),  # 236
    ('/m/0ggq0m', 'Classical music'),  # 237
    ('/m/05lls', 'Opera'),  # 238
    ('/m/02lkt', 'Electronic music'),  # 239
    ('/m/03mb9', 'House music'),  # 240
    ('/m/07gxw', 'Techno'),  # 241
    ('/m/07s72n', 'Dubstep'),  # 242
    ('/m/0283d', 'Drum and bass'),  # 243
    ('/m/0m0jc', 'Electronica'),  # 244
    ('/m/08cyft', 'Electronic dance music'),  # 245
    ('/m/0fd3y', 'Ambient music'),  # 246
    ('/m/07lnk', 'Trance music'),  # 247
    ('/m/0g293', 'Music of Latin America'),  # 248
    ('/m/0ln16', 'Salsa music'),  # 249
    ('/m/0326g', 'Flamenco'),  # 250
    ('/m/0155w', 'Blues'),  # 251
    ('/m/05fw6t', 'Music for children'),  # 252
    ('/m/02v2lh', 'New-age music'),  # 253
    ('/m/0y4f8', 'Vocal music'),  # 254
    ('/m/0z9c', 'A capella'),  # 255
    ('/m/0164x2', 'Music of Africa'),  # 256
    ('/m/0145m', 'Afrobeat'),  # 257
    ('/m/02mscn', 'Christian music'),  # 258
    ('/m/016cjb', 'Gospel music'),  # 259
    ('/m/028sqc', 'Music of Asia'),  # 260
    ('/m/015vgc', 'Carnatic music'),  # 261
    ('/m/0dq0md', 'Music of Bollywood'),  # 262
    ('/m/06rqw', 'Ska'),  # 263
    ('/m/02p0sh1', 'Traditional music'),  # 264
    ('/m/05rwpb', 'Independent music'),  # 265
    ('/m/074ft', 'Song'),  # 266
    ('/m/025td0t', 'Background music'),  # 267
    ('/m/02cjck', 'Theme music'),  # 268
    ('/m/03r5q_', 'Jingle (music)'),  # 269
    ('/m/0l14gg', 'Soundtrack music'),  # 270
    ('/m/07pkxdp', 'Lullaby'),  # 271
    ('/m/01z7dr', 'Video game music'),  # 272
    ('/m/0140xf', 'Christmas music'),  # 273
    ('/m/0ggx5q', 'Dance music'),  # 274
    ('/m/04wptg', 'Wedding music'),  # 275
    ('/t/dd00031', 'Happy music'),  # 276
    ('/t/dd00032', 'Funny music'),  # 277
    ('/t/dd00033', 'Sad music'),  # 278
    ('/t/dd00034', 'Tender music'),  # 279
    ('/t/dd00035', 'Exciting music'),  # 280
    ('/t/dd00036', 'Angry music'),  # 281
    ('/t/dd00037', 'Scary music'),  # 282
    ('/m/03m9d0z', 'Wind'),  # 283
    ('/m/09t49', 'Rustling leaves'),  # 284
    ('/t/dd00092', 'Wind noise (microphone)'),  # 285
    ('/m/0jb2l', 'Thunderstorm'),  # 286
    ('/m/0ngt1', 'Thunder'),  # 287
    ('/m/0838f', 'Water'),  # 288
    ('/m/06mb1', 'Rain'),  # 289
    ('/m/07r10fb', 'Raindrop'),  # 290
    ('/t/dd00038', 'Rain on surface'),  # 291
    ('/m/0j6m2', 'Stream'),  # 292
    ('/m/0j2kx', 'Waterfall'),  # 293
    ('/m/05kq4', 'Ocean'),  # 294
    ('/m/034srq', 'Waves, surf'),  # 295
    ('/m/06wzb', 'Steam'),  # 296
    ('/m/07swgks', 'Gurgling'),  # 297
    ('/m/02_41', 'Fire'),  # 298
    ('/m/07pzfmf', 'Crackle'),  # 299
    ('/m/07yv9', 'Vehicle'),  # 300
    ('/m/019jd', 'Boat, Water vehicle'),  # 301
    ('/m/0hsrw', 'Sailboat, sailing ship'),  # 302
    ('/m/056ks2', 'Rowboat, canoe, kayak'),  # 303
    ('/m/02rlv9', 'Motorboat, speedboat'),  # 304
    ('/m/06q74', 'Ship'),  # 305
    ('/m/012f08', 'Motor vehicle (road)'),  # 306
    ('/m/0k4j', 'Car'),  # 307
    ('/m/0912c9', 'Vehicle horn, car horn, honking'),  # 308
    ('/m/07qv_d5', 'Toot'),  # 309
    ('/m/02mfyn', 'Car alarm'),  # 310
    ('/m/04gxbd', 'Power windows, electric windows'),  # 311
    ('/m/07rknqz', 'Skidding'),  # 312
    ('/m/0h9mv', 'Tire squeal'),  # 313
    ('/t/dd00134', 'Car passing by'),  # 314
    ('/m/0ltv', 'Race car, auto racing'),  # 315
    ('/m/07r04', 'Truck'),  # 316
    ('/m/0gvgw0', 'Air brake'),  # 317
    ('/m/05x_td', 'Air horn, truck horn'),  # 318
    ('/m/02rhddq', 'Reversing beeps'),  # 319
    ('/m/03cl9h', 'Ice cream truck, ice cream van'),  # 320
    ('/m/01bjv', 'Bus'),  # 321
    ('/m/03j1ly', 'Emergency vehicle'),  # 322
    ('/m/04qvtq', 'Police car (siren)'),  # 323
    ('/m/012n7d', 'Ambulance (siren)'),  # 324
    ('/m/012ndj', 'Fire engine, fire truck (siren)'),  # 325
    ('/m/04_sv', 'Motorcycle'),  # 326
    ('/m/0btp2', 'Traffic noise, roadway noise'),  # 327
    ('/m/06d_3', 'Rail transport'),  # 328
    ('/m/07jdr', 'Train'),  # 329
    ('/m/04zmvq', 'Train whistle'),  # 330
    ('/m/0284vy3', 'Train horn'),  # 331
    ('/m/01g50p', 'Railroad car, train wagon'),  # 332
    ('/t/dd00048', 'Train wheels squealing'),  # 333
    ('/m/0195fx', 'Subway, metro, underground'),  # 334
    ('/m/0k5j', 'Aircraft'),  # 335
    ('/m/014yck', 'Aircraft engine'),  # 336
    ('/m/04229', 'Jet engine'),  # 337
    ('/m/02l6bg', 'Propeller, airscrew'),  # 338
    ('/m/09ct_', 'Helicopter'),  # 339
    ('/m/0cmf2', 'Fixed-wing aircraft, airplane'),  # 340
    ('/m/0199g', 'Bicycle'),  # 341
    ('/m/06_fw', 'Skateboard'),  # 342
    ('/m/02mk9', 'Engine'),  # 343
    ('/t/dd00065', 'Light engine (high frequency)'),  # 344
    ('/m/08j51y', "Dental drill, dentist's drill"),  # 345
    ('/m/01yg9g', 'Lawn mower'),  # 346
    ('/m/01j4z9', 'Chainsaw'),  # 347
    ('/t/dd00066', 'Medium engine (mid frequency)'),  # 348
    ('/t/dd00067', 'Heavy engine (low frequency)'),  # 349
    ('/m/01h82_', 'Engine knocking'),  # 350
    ('/t/dd00130', 'Engine starting'),  # 351
    ('/m/07pb8fc', 'Idling'),  # 352
    ('/m/07q2z82', 'Accelerating, revving, vroom'),  # 353
    ('/m/02dgv', 'Door'),  # 354
    ('/m/03wwcy', 'Doorbell'),  # 355
    ('/m/07r67yg', 'Ding-dong'),  # 356
    ('/m/02y_763', 'Sliding door'),  # 357
    ('/m/07rjzl8', 'Slam'),  # 358
    ('/m/07r4wb8', 'Knock'),  # 359
    ('/m/07qcpgn', 'Tap'),  # 360
    ('/m/07q6cd_', 'Squeak'),  # 361
    ('/m/0642b4', 'Cupboard open or close'),  # 362
    ('/m/0fqfqc', 'Drawer open or close'),  # 363
    ('/m/04brg2', 'Dishes, pots, and pans'),  # 364
    ('/m/023pjk', 'Cutlery, silverware'),  # 365
    ('/m/07pn_8q', 'Chopping (food)'),  # 366
    ('/m/0dxrf', 'Frying (food)'),  # 367
    ('/m/0fx9l', 'Microwave oven'),  # 368
    ('/m/02pjr4', 'Blender'),  # 369
    ('/m/02jz0l', 'Water tap, faucet'),  # 370
    ('/m/0130jx', 'Sink (filling or washing)'),  # 371
    ('/m/03dnzn', 'Bathtub (filling or washing)'),  # 372
    ('/m/03wvsk', 'Hair dryer'),  # 373
    ('/m/01jt3m', 'Toilet flush'),  # 374
    ('/m/012xff', 'Toothbrush'),  # 375
    ('/m/04fgwm', 'Electric toothbrush'),  # 376
    ('/m/0d31p', 'Vacuum cleaner'),  # 377
    ('/m/01s0vc', 'Zipper (clothing)'),  # 378
    ('/m/03v3yw', 'Keys jangling'),  # 379
    ('/m/0242l', 'Coin (dropping)'),  # 380
    ('/m/01lsmm', 'Scissors'),  # 381
    ('/m/02g901', 'Electric shaver, electric razor'),  # 382
    ('/m/05rj2', 'Shuffling cards'),  # 383
    ('/m/0316dw', 'Typing'),  # 384
    ('/m/0c2wf', 'Typewriter'),  # 385
    ('/m/01m2v', 'Computer keyboard'),  # 386
    ('/m/081rb', 'Writing'),  # 387
    ('/m/07pp_mv', 'Alarm'),  # 388
    ('/m/07cx4', 'Telephone'),  # 389
    ('/m/07pp8cl', 'Telephone bell ringing'),  # 390
    ('/m/01hnzm', 'Ringtone'),  # 391
    ('/m/02c8p', 'Telephone dialing, DTMF'),  # 392
    ('/m/015jpf', 'Dial tone'),  # 393
    ('/m/01z47d', 'Busy signal'),  # 394
    ('/m/046dlr', 'Alarm clock'),  # 395
    ('/m/03kmc9', 'Siren'),  # 396
    ('/m/0dgbq', 'Civil defense siren'),  # 397
    ('/m/030rvx', 'Buzzer'),  # 398
    ('/m/01y3hg', 'Smoke detector, smoke alarm'),  # 399
    ('/m/0c3f7m', 'Fire alarm'),  # 400
    ('/m/04fq5q', 'Foghorn'),  # 401
    ('/m/0l156k', 'Whistle'),  # 402
    ('/m/06hck5', 'Steam whistle'),  # 403
    ('/t/dd00077', 'Mechanisms'),  # 404
    ('/m/02bm9n', 'Ratchet, pawl'),  # 405
    ('/m/01x3z', 'Clock'),  # 406
    ('/m/07qjznt', 'Tick'),  # 407
    ('/m/07qjznl', 'Tick-tock'),  # 408
    ('/m/0l7xg', 'Gears'),  # 409
    ('/m/05zc1', 'Pulleys'),  # 410
    ('/m/0llzx', 'Sewing machine'),  # 411
    ('/m/02x984l', 'Mechanical fan'),  # 412
    ('/m/025wky1', 'Air conditioning'),  # 413
    ('/m/024dl', 'Cash register'),  # 414
    ('/m/01m4t', 'Printer'),  # 415
    ('/m/0dv5r', 'Camera'),  # 416
    ('/m/07bjf', 'Single-lens reflex camera'),  # 417
    ('/m/07k1x', 'Tools'),  # 418
    ('/m/03l9g', 'Hammer'),  # 419
    ('/m/03p19w', 'Jackhammer'),  # 420
    ('/m/01b82r', 'Sawing'),  # 421
    ('/m/02p01q', 'Filing (rasp)'),  # 422
    ('/m/023vsd', 'Sanding'),  # 423
    ('/m/0_ksk', 'Power tool'),  # 424
    ('/m/01d380', 'Drill'),  # 425
    ('/m/014zdl', 'Explosion'),  # 426
    ('/m/032s66', 'Gunshot, gunfire'),  # 427
    ('/m/04zjc', 'Machine gun'),  # 428
    ('/m/02z32qm', 'Fusillade'),  # 429
    ('/m/0_1c', 'Artillery fire'),  # 430
    ('/m/073cg4', 'Cap gun'),  # 431
    ('/m/0g6b5', 'Fireworks'),  # 432
    ('/g/122z_qxw', 'Firecracker'),  # 433
    ('/m/07qsvvw', 'Burst, pop'),  # 434
    ('/m/07pxg6y', 'Eruption'),  # 435
    ('/m/07qqyl4', 'Boom'),  # 436
    ('/m/083vt', 'Wood'),  # 437
    ('/m/07pczhz', 'Chop'),  # 438
    ('/m/07pl1bw', 'Splinter'),  # 439
    ('/m/07qs1cx', 'Crack'),  # 440
    ('/m/039jq', 'Glass'),  # 441
    ('/m/07q7njn', 'Chink, clink'),  # 442
    ('/m/07rn7sz', 'Shatter'),  # 443
    ('/m/04k94', 'Liquid'),  # 444
    ('/m/07rrlb6', 'Splash, splatter'),  # 445
    ('/m/07p6mqd', 'Slosh'),  # 446
    ('/m/07qlwh6', 'Squish'),  # 447
    ('/m/07r5v4s', 'Drip'),  # 448
    ('/m/07prgkl', 'Pour'),  # 449
    ('/m/07pqc89', 'Trickle, dribble'),  # 450
    ('/t/dd00088', 'Gush'),  # 451
    ('/m/07p7b8y', 'Fill (with liquid)'),  # 452
    ('/m/07qlf79', 'Spray'),  # 453
    ('/m/07ptzwd', 'Pump (liquid)'),  # 454
    ('/m/07ptfmf', 'Stir'),  # 455
    ('/m/0dv3j', 'Boiling'),  # 456
    ('/m/0790c', 'Sonar'),  # 457
    ('/m/0dl83', 'Arrow'),  # 458
    ('/m/07rqsjt', 'Whoosh, swoosh, swish'),  # 459
    ('/m/07qnq_y', 'Thump, thud'),  # 460
    ('/m/07rrh0c', 'Thunk'),  # 461
    ('/m/0b_fwt', 'Electronic tuner'),  # 462
    ('/m/02rr_', 'Effects unit'),  # 463
    ('/m/07m2kt', 'Chorus effect'),  # 464
    ('/m/018w8', 'Basketball bounce'),  # 465
    ('/m/07pws3f', 'Bang'),  # 466
    ('/m/07ryjzk', 'Slap, smack'),  # 467
    ('/m/07rdhzs', 'Whack, thwack'),  # 468
    ('/m/07pjjrj', 'Smash, crash'),  # 469
    ('/m/07pc8lb', 'Breaking'),  # 470
    ('/m/07pqn27', 'Bouncing'),  # 471
    ('/m/07rbp7_', 'Whip'),  # 472
    ('/m/07pyf11', 'Flap'),  # 473
    ('/m/07qb_dv', 'Scratch'),  # 474
    ('/m/07qv4k0', 'Scrape'),  # 475
    ('/m/07pdjhy', 'Rub'),  # 476
    ('/m/07s8j8t', 'Roll'),  # 477
    ('/m/07plct2', 'Crushing'),  # 478
    ('/t/dd00112', 'Crumpling, crinkling'),  # 479
    ('/m/07qcx4z', 'Tearing'),  # 480
    ('/m/02fs_r', 'Beep, bleep'),  # 481
    ('/m/07qwdck', 'Ping'),  # 482
    ('/m/07phxs1', 'Ding'),  # 483
    ('/m/07rv4dm', 'Clang'),  # 484
    ('/m/07s02z0', 'Squeal'),  # 485
    ('/m/07qh7jl', 'Creak'),  # 486
    ('/m/07qwyj0', 'Rustle'),  # 487
    ('/m/07s34ls', 'Whir'),  # 488
    ('/m/07qmpdm', 'Clatter'),  # 489
    ('/m/07p9k1k', 'Sizzle'),  # 490
    ('/m/07qc9xj', 'Clicking'),  # 491
    ('/m/07rwm0c', 'Clickety-clack'),  # 492
    ('/m/07phhsh', 'Rumble'),  # 493
    ('/m/07qyrcz', 'Plop'),  # 494
    ('/m/07qfgpx', 'Jingle, tinkle'),  # 495
    ('/m/07rcgpl', 'Hum'),  # 496
    ('/m/07p78v5', 'Zing'),  # 497
    ('/t/dd00121', 'Boing'),  # 498
    ('/m/07s12q4', 'Crunch'),  # 499
    ('/m/028v0c', 'Silence'),  # 500
    ('/m/01v_m0', 'Sine wave'),  # 501
    ('/m/0b9m1', 'Harmonic'),  # 502
    ('/m/0hdsk', 'Chirp tone'),  # 503
    ('/m/0c1dj', 'Sound effect'),  # 504
    ('/m/07pt_g0', 'Pulse'),  # 505
    ('/t/dd00125', 'Inside, small room'),  # 506
    ('/t/dd00126', 'Inside, large room or hall'),  # 507
    ('/t/dd00127', 'Inside, public space'),  # 508
    ('/t/dd00128', 'Outside, urban or manmade'),  # 509
    ('/t/dd00129', 'Outside, rural or natural'),  # 510
    ('/m/01b9nn', 'Reverberation'),  # 511
    ('/m/01jnbd', 'Echo'),  # 512
    ('/m/096m7z', 'Noise'),  # 513
    ('/m/06_y0by', 'Environmental noise'),  # 514
    ('/m/07rgkc5', 'Static'),  # 515
    ('/m/06xkwv', 'Mains hum'),  # 516
    ('/m/0g12c5', 'Distortion'),  # 517
    ('/m/08p9q4', 'Sidetone'),  # 518
    ('/m/07szfh9', 'Cacophony'),  # 519
    ('/m/0chx_', 'White noise'),  # 520
    ('/m/0cj0r', 'Pink noise'),  # 521
    ('/m/07p_0gm', 'Throbbing'),  # 522
    ('/m/01jwx6', 'Vibration'),  # 523
    ('/m/07c52', 'Television'),  # 524
    ('/m/06bz3', 'Radio'),  # 525
    ('/m/07hvw1', 'Field recording'),  # 526
)

AUDIOSET_LABELS: tuple[str, ...] = tuple(name for _, name in AUDIOSET_CLASSES)
AUDIOSET_MIDS: tuple[str, ...] = tuple(mid for mid, _ in AUDIOSET_CLASSES)

assert len(AUDIOSET_CLASSES) == 527, len(AUDIOSET_CLASSES)


def heard_tags(audio_encoder, wave, k: int = 5) -> list[tuple[str, float]] | None:
    """What an EfficientAT AudioSet encoder itself hears in one clip (a mono waveform at its rate,
    already cut/padded as it embeds): its k most probable AudioSet classes as (label, sigmoid
    probability), best first. None for an encoder without AudioSet outputs (no `predict_labels`)."""
    import numpy as np

    predict = getattr(audio_encoder, "predict_labels", None)
    if predict is None:
        return None
    return predict(np.asarray(wave, dtype=np.float32)[None], top_k=k)[0]


def tags_text(tags: list[tuple[str, float]] | None) -> str:
    """"Dog 91 %, Animal 85 %, ..." (empty for None or no tags): one line for the CLI and the app."""
    return ", ".join(f"{label} {100 * p:.0f} %" for label, p in tags or [])
